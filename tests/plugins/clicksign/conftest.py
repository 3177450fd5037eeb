"""Fixtures of the ClickSign plugin tests: the fake account, storage with a PDF, a runner."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from fakes.clicksign import FakeClickSign

from docg_clicksign.app import ClickSignApp
from docg_core._http import http_factory
from docg_core.apps import ActionResult, validate_arguments
from docg_core.context import AppInfo, ExecutionInfo, FlowInfo, StepInfo, build_context
from docg_core.storage import LocalStorage
from docg_core.store import InMemoryStore
from docg_core.testing import run_action

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PDF_KEY = "docg/local/outputs/contrato.pdf"
TOKEN = "cs-test-token"
AUTH = {"api_token": TOKEN, "environment": "sandbox", "webhook_secret": "cs-webhook-secret"}
SIGNERS = [
    {"name": "Ana Souza", "email": "ana@example.com"},
    {"name": "Bruno Lima", "phone": "+55 (11) 98765-4321", "auth": "whatsapp", "group": 2},
]

Runner = Callable[..., Awaitable[ActionResult]]


@pytest.fixture
def fake() -> FakeClickSign:
    return FakeClickSign(token=TOKEN)


@pytest.fixture
async def storage(tmp_path: Path) -> LocalStorage:
    storage = LocalStorage(tmp_path / "files", secret="test-secret")
    await storage.put(PDF_KEY, PDF, content_type="application/pdf")
    return storage


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def run(fake: FakeClickSign, storage: LocalStorage, store: InMemoryStore) -> Runner:
    """Run an action as one step of execution ``exec-1`` (same store: a retry sees the
    first run's datastore)."""

    async def runner(
        action_key: str,
        parameters: Mapping[str, Any],
        *,
        auth: Mapping[str, Any] = AUTH,
        attempt: int = 1,
        organization_id: str | None = None,
    ) -> ActionResult:
        app = ClickSignApp()
        action = app.action(action_key)
        assert action is not None
        return await run_action(
            app,
            action,
            parameters,
            auth=auth,
            transport=fake.transport(),
            store=store,
            storage=storage,
            execution_id="exec-1",
            organization_id=organization_id,
            attempt=attempt,
        )

    return runner


Resumer = Callable[..., Awaitable[ActionResult]]


@pytest.fixture
def resume(fake: FakeClickSign, storage: LocalStorage, store: InMemoryStore) -> Resumer:
    """Resume the ``send-for-signature`` step of execution ``exec-1`` with a payload."""

    async def resumer(
        payload: Mapping[str, Any], parameters: Mapping[str, Any] | None = None
    ) -> ActionResult:
        app = ClickSignApp()
        action = app.action("send-for-signature")
        assert action is not None
        params = validate_arguments(action.arguments, parameters or send_parameters())
        ctx = build_context(
            store=store,
            app=AppInfo(app.key, app.name),
            flow=FlowInfo(None, "test"),
            step=StepInfo("step", "step", app.key, action.key, params, "exec-1:step"),
            execution=ExecutionInfo("exec-1", test_run=True),
            auth=AUTH,
            storage=storage,
            http_factory=http_factory(app, transport=fake.transport()),
        )
        try:
            return await action().resume(ctx, payload)
        finally:
            await ctx.aclose()

    return resumer


def send_parameters() -> dict[str, Any]:
    """Valid ``send-for-signature`` parameters."""
    return {
        "document": {"pdf_key": PDF_KEY},
        "signers": [dict(s) for s in SIGNERS],
        "envelope_name": "Contrato Acme",
        "message": "Por favor, assine.",
    }


@pytest.fixture
def params() -> dict[str, Any]:
    """Valid ``send-for-signature`` parameters (a fresh copy per test)."""
    return send_parameters()
