"""The ClickSign app passes the plugin conformance kit against the fake ClickSign."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx
import pytest
from fakes.clicksign import FakeClickSign

from docg_clicksign.app import ClickSignApp
from docg_core.testing import AppConformance, ErrorCase

PDF = b"%PDF-1.4\n%conformance\n"
PDF_KEY = "docg/local/outputs/contrato.pdf"
SIGNERS = [{"name": "Ana Souza", "email": "ana@example.com"}]


class TestClickSign(AppConformance):
    app = ClickSignApp
    entry_point = "clicksign"
    auth_sample: ClassVar[Mapping[str, Any] | None] = {
        "api_token": "cs-test-token",
        "environment": "sandbox",
        "webhook_secret": "cs-webhook-secret",
    }
    http_error_statuses: ClassVar[Mapping[int, bool]] = {
        400: False,
        401: False,
        404: False,
        422: False,
        429: True,
        500: True,
        503: True,
    }
    error_cases = (
        ErrorCase("get-status", {"envelope_id": "no-such-envelope"}, retryable=False),
        ErrorCase("cancel-envelope", {"envelope_id": "no-such-envelope"}, retryable=False),
        ErrorCase(
            "send-for-signature",
            {"document": "docg/local/outputs/missing.pdf", "signers": SIGNERS},
            retryable=False,
        ),
        ErrorCase(
            "send-for-signature",
            {"document": PDF_KEY, "signers": [{"name": "Ana", "auth": "sms"}]},
            retryable=False,
        ),
    )

    @pytest.fixture(autouse=True)
    def _account(self) -> None:
        self.fake = FakeClickSign(token="cs-test-token")
        self.to_cancel = self.fake.add_envelope(signers=SIGNERS).id
        self.running = self.fake.add_envelope(signers=SIGNERS).id
        asyncio.run(self.storage.put(PDF_KEY, PDF, content_type="application/pdf"))

    def make_transport(self) -> httpx.AsyncBaseTransport | None:
        return self.fake.transport()

    def make_samples(self) -> Mapping[str, Mapping[str, Any]]:
        return {
            "send-for-signature": {"document": {"pdf_key": PDF_KEY}, "signers": SIGNERS},
            "cancel-envelope": {"envelope_id": self.to_cancel},
            "resend-notification": {"envelope_id": self.running},
            "get-status": {"envelope_id": self.running},
        }

    async def test_the_sample_send_waits_on_its_envelope(self) -> None:
        result = await self.run_sample("send-for-signature")

        envelope_id = result.data["envelope_id"]
        assert result.waiting is not None
        assert result.waiting.resume_token == f"clicksign:{envelope_id}"
        assert self.fake.envelopes[envelope_id].status == "running"

    async def test_the_engine_records_the_waiting_step_without_the_token(self) -> None:
        execution = await self.run_in_engine(
            "send-for-signature", self.sample_parameters("send-for-signature")
        )

        step = execution.step("step")
        assert step is not None
        assert execution.status == "waiting"
        assert step.status == "waiting"
        assert step.wait is not None and step.wait.resume_token.startswith("clicksign:")
        assert "cs-test-token" not in repr(step.data_out) + repr(step.data_in)
