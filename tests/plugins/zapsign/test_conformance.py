"""The ZapSign app passes the plugin conformance kit against the fake ZapSign."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import httpx
import pytest
from fakes.zapsign import FakeZapSign

from docg_core.testing import AppConformance, ErrorCase
from docg_zapsign.app import ZapSignApp

from .conftest import CONTRACT, CONTRACT_KEY, signers

FAKE = FakeZapSign()


class TestZapSign(AppConformance):
    app = ZapSignApp
    entry_point = "zapsign"
    auth_sample: Mapping[str, Any] = {
        "api_token": FAKE.api_token,
        "environment": "production",
        "webhook_secret": FAKE.webhook_secret,
    }
    http_error_statuses: Mapping[int, bool] = {
        400: False,
        401: False,
        403: False,
        404: False,
        429: True,
        500: True,
        503: True,
    }
    error_cases = (
        # The fake knows no such document: 404, not retryable.
        ErrorCase("get-status", {"doc_token": "0000-no-such-doc"}, retryable=False),
        ErrorCase("cancel-document", {"doc_token": "0000-no-such-doc"}, retryable=False),
        # Invalid input is refused before anything is sent.
        ErrorCase("get-status", {"doc_token": "../../etc"}, retryable=False),
        ErrorCase(
            "send-for-signature",
            {"document": CONTRACT_KEY, "signers": [{"email": "no-name@example.com"}]},
            retryable=False,
        ),
        ErrorCase(
            "send-for-signature",
            {"document": "docg/local/outputs/missing.pdf", "signers": signers()},
            retryable=False,
        ),
    )

    @pytest.fixture(autouse=True)
    def _contract(self) -> None:
        asyncio.run(self.storage.put(CONTRACT_KEY, CONTRACT, content_type="application/pdf"))

    def make_transport(self) -> httpx.AsyncBaseTransport:
        self.fake = FakeZapSign()
        return self.fake.transport

    def make_samples(self) -> Mapping[str, Mapping[str, Any]]:
        self.http_transport  # noqa: B018 (builds self.fake)
        return {
            "send-for-signature": {"document": {"pdf_key": CONTRACT_KEY}, "signers": signers()},
            "get-status": {"doc_token": self._document()},
            "resend-notification": {"doc_token": self._document()},
            "cancel-document": {"doc_token": self._document()},
        }

    def _document(self) -> str:
        """A pending document made directly in the fake, for actions that work on one."""
        created = self.fake.handle(
            httpx.Request(
                "POST",
                "https://api.zapsign.com.br/api/v1/docs/",
                headers={"Authorization": f"Bearer {self.fake.api_token}"},
                json={"name": "c", "url_pdf": "https://x.test/c.pdf", "signers": [{"name": "Ana"}]},
            )
        )
        return str(created.json()["token"])

    async def test_retried_send_creates_one_document(self) -> None:
        first, again = await self.retry_sample("send-for-signature")
        assert again.data == first.data
        # Three documents were made for the other samples; the step and its retry made one.
        assert len(self.fake.documents) == 4
        assert len(self.fake.calls("POST", "/api/v1/docs/")) == 4
