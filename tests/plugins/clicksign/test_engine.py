"""A signature through the real engine: wait, webhook or polling resume, then the next node."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakes.clicksign import SIGNATURE_MARK, FakeClickSign

import docg_clicksign
from docg_clicksign.app import ClickSignApp
from docg_core import Engine, Workflow, get_registry
from docg_core.storage import LocalStorage

PDF = b"%PDF-1.4\n%engine\n"
PDF_KEY = "docg/local/outputs/proposta.pdf"
CONNECTION = {"api_token": "cs-test-token", "environment": "sandbox", "webhook_secret": "s3cr3t"}

FLOW = {
    "name": "Proposal signature",
    "nodes": [
        {
            "id": "sign",
            "app": "clicksign",
            "action": "send-for-signature",
            "connection": "clicksign-main",
            "parameters": {
                "document": "{{trigger.pdf_key}}",
                "signers": [{"name": "Ana Souza", "email": "ana@example.com"}],
                "poll_interval_minutes": 30,
            },
        },
        {
            "id": "after",
            "app": "formatter",
            "action": "text",
            "parameters": {
                "transform": "trim",
                "input": " {{step.sign.status}} {{step.sign.signed_file_key}} ",
            },
        },
    ],
}


@pytest.fixture
async def engine(tmp_path: Path, fake: FakeClickSign) -> Engine:
    storage = LocalStorage(tmp_path / "files", secret="engine-secret")
    await storage.put(PDF_KEY, PDF)
    return Engine(
        registry=get_registry(plugins=[], extra=[docg_clicksign]),
        connections={"clicksign-main": CONNECTION},
        http_transport=fake.transport(),
        storage=storage,
        env_allowlist=(),
    )


async def test_a_verified_webhook_resumes_the_step_and_the_flow_continues(
    engine: Engine, fake: FakeClickSign
) -> None:
    execution = await engine.run(Workflow.model_validate(FLOW), {"pdf_key": PDF_KEY})
    assert execution.status == "waiting"
    (envelope_id,) = fake.envelopes
    fake.sign(envelope_id, "ana@example.com")

    # What a server does with the webhook: parse, find the step, verify, resume.
    app = ClickSignApp()
    request = fake.webhook_request(envelope_id, "auto_close", secret="s3cr3t")
    (event,) = app.parse_callback(request)
    stored = await engine.store.get_execution(execution.id)
    waiting = stored.step("sign")
    assert waiting is not None and waiting.wait is not None
    assert waiting.wait.resume_token == event.resume_token
    app.verify_callback(request, CONNECTION)
    done = await engine.resume(execution.id, "sign", event.payload)

    assert done.status == "completed"
    sign = done.step("sign")
    assert sign is not None and sign.status == "success"
    key = sign.data_out["data"]["signed_file_key"]
    assert await engine.storage.get(key) == PDF + SIGNATURE_MARK
    after = done.step("after")
    assert after is not None
    assert after.data_out["data"]["value"] == f"signed {key}"


async def test_the_polling_fallback_waits_again_until_the_envelope_settles(
    engine: Engine, fake: FakeClickSign
) -> None:
    execution = await engine.run(Workflow.model_validate(FLOW), {"pdf_key": PDF_KEY})
    (envelope_id,) = fake.envelopes
    first = execution.step("sign")
    assert first is not None and first.wait is not None and first.wait.resume_at is not None
    later = datetime.now(UTC) + timedelta(minutes=31)

    (still,) = await engine.resume_due(later)
    assert still.status == "waiting"
    step = still.step("sign")
    assert step is not None and step.wait is not None and step.wait.resume_at is not None
    assert step.wait.resume_at > first.wait.resume_at  # a new poll time: it keeps waiting

    fake.refuse(envelope_id, "ana@example.com")
    (ended,) = await engine.resume_due(later + timedelta(minutes=31))

    assert ended.status == "completed"
    sign = ended.step("sign")
    assert sign is not None and sign.data_out["data"]["status"] == "refused"
    assert len(fake.envelopes) == 1
