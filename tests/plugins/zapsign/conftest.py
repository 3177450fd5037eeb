"""Shared fixtures: the fake ZapSign, a file storage holding a contract, an engine."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from fakes.zapsign import FakeZapSign

import docg_zapsign
from docg_core import Engine, Workflow, get_registry
from docg_core.apps import ActionResult
from docg_core.storage import LocalStorage
from docg_core.store import InMemoryStore
from docg_core.testing import run_action
from docg_zapsign.app import ZapSignApp

CONTRACT = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
CONTRACT_KEY = "docg/local/outputs/contrato.pdf"


@pytest.fixture
def fake() -> FakeZapSign:
    return FakeZapSign()


@pytest.fixture
def auth(fake: FakeZapSign) -> dict[str, str]:
    return {
        "api_token": fake.api_token,
        "environment": "production",
        "webhook_secret": fake.webhook_secret,
    }


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    storage = LocalStorage(tmp_path / "files", secret="test-secret")
    asyncio.run(storage.put(CONTRACT_KEY, CONTRACT, content_type="application/pdf"))
    return storage


def signers() -> list[dict[str, Any]]:
    return [
        {"name": "Ana Souza", "email": "ana@example.com", "auth_method": "email"},
        {
            "name": "Bruno Lima",
            "phone_country": "55",
            "phone_number": "11999998888",
            "auth_method": "whatsapp",
        },
    ]


def flow(**parameters: Any) -> Workflow:
    return Workflow.model_validate(
        {
            "name": "Contract signature",
            "nodes": [
                {
                    "id": "sign",
                    "app": "zapsign",
                    "action": "send-for-signature",
                    "connection": "zapsign-main",
                    "parameters": {
                        "document": {"pdf_key": CONTRACT_KEY},
                        "signers": signers(),
                        "name": "Contrato Acme",
                        **parameters,
                    },
                },
                {
                    "id": "after",
                    "app": "formatter",
                    "action": "text",
                    "parameters": {"transform": "upper", "input": "{{step.sign.status}}"},
                },
            ],
        }
    )


@pytest.fixture
def engine(fake: FakeZapSign, auth: Mapping[str, str], storage: LocalStorage) -> Engine:
    return Engine(
        registry=get_registry(plugins=[], extra=[docg_zapsign]),
        store=InMemoryStore(),
        connections={"zapsign-main": auth},
        http_transport=fake.transport,
        storage=storage,
        env_allowlist=(),
    )


async def act(
    action_key: str,
    parameters: Mapping[str, Any],
    *,
    fake: FakeZapSign,
    auth: Mapping[str, Any],
    storage: LocalStorage | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    **kw: Any,
) -> ActionResult:
    app = ZapSignApp()
    action = app.action(action_key)
    assert action is not None
    return await run_action(
        app,
        action,
        parameters,
        auth=auth,
        transport=transport or fake.transport,
        storage=storage,
        **kw,
    )
