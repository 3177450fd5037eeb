"""send-for-signature: the request sent, idempotency, and how the wait ends."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from fakes.zapsign import SIGNED_PDF, FakeZapSign

from docg_core import Engine
from docg_core.errors import ExecutionError, RetryableError, StepError, ValidationError
from docg_core.records import ExecutionRecord
from docg_core.storage import LocalStorage
from docg_zapsign.app import ZapSignApp

from .conftest import CONTRACT, CONTRACT_KEY, act, flow, signers

LATER = timedelta(hours=3)


async def test_creates_the_document_with_its_signers_and_waits(
    fake: FakeZapSign, auth: dict[str, str], storage: LocalStorage
) -> None:
    result = await act(
        "send-for-signature",
        {"document": CONTRACT_KEY, "signers": signers(), "name": "Contrato Acme", "message": "Olá"},
        fake=fake,
        auth=auth,
        storage=storage,
        execution_id="exec-1",
        node_id="sign",
    )
    [call] = fake.requests
    assert (call.method, call.url) == ("POST", "https://api.zapsign.com.br/api/v1/docs/")
    assert call.headers["authorization"] == f"Bearer {fake.api_token}"
    assert base64.b64decode(call.json.pop("base64_pdf")) == CONTRACT
    assert call.json == {
        "name": "Contrato Acme",
        "signers": [
            {
                "name": "Ana Souza",
                "email": "ana@example.com",
                "phone_country": "",
                "phone_number": "",
                "auth_mode": "assinaturaTela-tokenEmail",
                "send_automatic_email": True,
                "send_automatic_whatsapp": False,
                "lock_name": True,
                "lock_email": True,
                "lock_phone": False,
                "custom_message": "Olá",
            },
            {
                "name": "Bruno Lima",
                "email": "",
                "phone_country": "55",
                "phone_number": "11999998888",
                "auth_mode": "assinaturaTela-tokenWhatsapp",
                "send_automatic_email": False,
                "send_automatic_whatsapp": True,
                "lock_name": True,
                "lock_email": False,
                "lock_phone": True,
            },
        ],
        "lang": "pt-br",
        "signature_order_active": False,
        "external_id": "exec-1:sign",
    }
    doc = fake.only_document()
    assert result.waiting is not None
    assert result.waiting.reason == "signature"
    assert result.waiting.resume_token == f"zapsign:{doc['token']}"
    assert result.waiting.resume_at is not None
    due_in = result.waiting.resume_at - datetime.now(UTC)
    assert timedelta(minutes=59) < due_in <= timedelta(minutes=60)
    assert result.data["doc_token"] == doc["token"]
    assert result.data["status"] == "pending"
    assert [s["name"] for s in result.data["signers"]] == ["Ana Souza", "Bruno Lima"]
    assert [s["status"] for s in result.data["signers"]] == ["new", "new"]


async def test_the_sandbox_connection_uses_the_sandbox_host_and_token(
    fake: FakeZapSign, storage: LocalStorage
) -> None:
    auth = {"api_token": fake.sandbox_token, "environment": "sandbox"}
    await act(
        "send-for-signature",
        {"document": CONTRACT_KEY, "signers": signers()},
        fake=fake,
        auth=auth,
        storage=storage,
    )
    [call] = fake.requests
    assert call.url == "https://sandbox.api.zapsign.com.br/api/v1/docs/"
    assert call.headers["authorization"] == f"Bearer {fake.sandbox_token}"
    assert call.json["name"] == "contrato"  # the file name without its extension


async def test_signing_order_numbers_the_signers(
    fake: FakeZapSign, auth: dict[str, str], storage: LocalStorage
) -> None:
    people = signers()
    people[0]["order"] = 2
    await act(
        "send-for-signature",
        {"document": CONTRACT_KEY, "signers": people, "signing_order": "yes"},
        fake=fake,
        auth=auth,
        storage=storage,
    )
    body = fake.requests[0].json
    assert body["signature_order_active"] is True
    assert [s["order_group"] for s in body["signers"]] == [2, 2]


async def test_bad_signers_are_all_reported_and_nothing_is_sent(
    fake: FakeZapSign, auth: dict[str, str], storage: LocalStorage
) -> None:
    bad = [
        {"email": "sem-nome@example.com"},
        {"name": "Caio", "auth_method": "fax"},
        {"name": "Dora", "auth_method": "sms"},
    ]
    with pytest.raises(ValidationError) as caught:
        await act(
            "send-for-signature",
            {"document": CONTRACT_KEY, "signers": bad},
            fake=fake,
            auth=auth,
            storage=storage,
        )
    text = str(caught.value)
    assert "signer 1: name is required" in text
    assert "signer 2: auth_method 'fax' is not one of signature, email, sms, whatsapp" in text
    assert "signer 3: a phone_number is needed for SMS or WhatsApp" in text
    assert fake.requests == []


async def test_a_tenant_cannot_send_another_organizations_file(
    fake: FakeZapSign, auth: dict[str, str], storage: LocalStorage
) -> None:
    await storage.put("docg/org-b/outputs/theirs.pdf", CONTRACT)
    with pytest.raises(StepError) as caught:
        await act(
            "send-for-signature",
            {"document": "docg/org-b/outputs/theirs.pdf", "signers": signers()},
            fake=fake,
            auth=auth,
            storage=storage,
            organization_id="org-a",
        )
    assert caught.value.code == "file_not_found"
    assert "not one of this organization's files" in caught.value.message
    assert fake.requests == []


async def test_a_file_that_is_not_a_pdf_is_refused(
    fake: FakeZapSign, auth: dict[str, str], storage: LocalStorage
) -> None:
    await storage.put("docg/local/outputs/nota.txt", b"just text")
    with pytest.raises(StepError) as caught:
        await act(
            "send-for-signature",
            {"document": "docg/local/outputs/nota.txt", "signers": signers()},
            fake=fake,
            auth=auth,
            storage=storage,
        )
    assert caught.value.code == "not_a_pdf"
    assert fake.requests == []


async def test_zapsign_validation_errors_name_the_field(
    fake: FakeZapSign, auth: dict[str, str], storage: LocalStorage
) -> None:
    fake.fail_next(400, {"signers": ["signers[0].email inválido."]})
    with pytest.raises(StepError) as caught:
        await act(
            "send-for-signature",
            {"document": CONTRACT_KEY, "signers": signers()},
            fake=fake,
            auth=auth,
            storage=storage,
        )
    assert not isinstance(caught.value, RetryableError)
    assert caught.value.code == "http_400"
    assert "signers: signers[0].email inválido." in caught.value.message


async def test_a_wrong_token_says_to_check_token_and_environment(
    fake: FakeZapSign, storage: LocalStorage
) -> None:
    with pytest.raises(StepError) as caught:
        await act(
            "send-for-signature",
            {"document": CONTRACT_KEY, "signers": signers()},
            fake=fake,
            auth={"api_token": fake.sandbox_token, "environment": "production"},
            storage=storage,
        )
    assert caught.value.code == "http_403"
    assert "environment (production or sandbox)" in caught.value.message
    assert fake.sandbox_token not in caught.value.message


async def test_rate_limit_is_retryable_after_the_given_delay(
    fake: FakeZapSign, auth: dict[str, str], storage: LocalStorage
) -> None:
    fake.fail_next(429, {"detail": "Too many requests"}, {"Retry-After": "7"})
    with pytest.raises(RetryableError) as caught:
        await act(
            "send-for-signature",
            {"document": CONTRACT_KEY, "signers": signers()},
            fake=fake,
            auth=auth,
            storage=storage,
        )
    assert caught.value.retry_after == 7
    assert fake.documents == {}


async def test_an_engine_retry_after_a_server_error_creates_one_document(
    engine: Engine, fake: FakeZapSign
) -> None:
    fake.fail_next(503, path="/api/v1/docs/")
    execution = await engine.run(flow())
    step = execution.step("sign")
    assert execution.status == "waiting"
    assert step is not None and step.attempt == 2
    assert len(fake.documents) == 1


# -- how the wait ends ----------------------------------------------------------------------


async def _resume_with_webhook(
    engine: Engine, fake: FakeZapSign, execution_id: str, event: str
) -> ExecutionRecord:
    app = ZapSignApp()
    doc = fake.only_document()
    request = fake.webhook_request(doc["token"], event)
    [callback] = app.parse_callback(request)
    app.verify_callback(request, {"webhook_secret": fake.webhook_secret})
    assert callback.resume_token == f"zapsign:{doc['token']}"
    return await engine.resume(execution_id, "sign", callback.payload)


async def test_webhooks_record_progress_then_store_the_signed_pdf(
    engine: Engine, fake: FakeZapSign, storage: LocalStorage
) -> None:
    execution = await engine.run(flow())
    assert execution.status == "waiting"
    fake.sign(fake.only_document()["token"], 0)
    execution = await _resume_with_webhook(engine, fake, execution.id, "doc_signed")
    step = execution.step("sign")
    assert execution.status == "waiting"
    assert step is not None and step.data_out is not None
    progress = step.data_out["data"]
    assert (progress["signed_count"], progress["last_event"]) == (1, "doc_signed")
    assert [s["status"] for s in progress["signers"]] == ["signed", "new"]

    fake.sign(fake.only_document()["token"], 1)
    execution = await _resume_with_webhook(engine, fake, execution.id, "doc_signed")
    assert execution.status == "completed"
    step = execution.step("sign")
    assert step is not None and step.data_out is not None
    data = step.data_out["data"]
    assert data["status"] == "signed"
    assert data["signed_count"] == data["signer_count"] == 2
    assert data["signed_file_key"].startswith("docg/local/outputs/")
    assert await storage.get(data["signed_file_key"]) == SIGNED_PDF
    after = execution.step("after")
    assert after is not None and after.data_out is not None
    assert after.data_out["data"] == {"value": "SIGNED"}
    [download] = fake.calls("GET", "/signed/")
    assert "authorization" not in download.headers  # the API token stays with ZapSign's API


async def test_polling_resumes_without_webhooks(engine: Engine, fake: FakeZapSign) -> None:
    execution = await engine.run(flow(poll_interval_minutes=5))
    [resumed] = await engine.resume_due(datetime.now(UTC) + LATER)
    step = resumed.step("sign")
    assert resumed.status == "waiting"
    assert step is not None and step.wait is not None and step.wait.resume_at is not None
    assert step.wait.resume_at - datetime.now(UTC) <= timedelta(minutes=5)
    assert step.data_out is not None and step.data_out["data"]["last_event"] == "poll"
    doc_token = fake.only_document()["token"]
    fake.sign(doc_token, 0)
    fake.sign(doc_token, 1)
    [done] = await engine.resume_due(datetime.now(UTC) + LATER)
    assert done.id == execution.id
    assert done.status == "completed"
    assert len(fake.calls("GET", f"/api/v1/docs/{doc_token}/")) == 2


async def test_a_refusal_fails_the_step_by_default(engine: Engine, fake: FakeZapSign) -> None:
    execution = await engine.run(flow())
    fake.refuse(fake.only_document()["token"], "Valor errado")
    execution = await _resume_with_webhook(engine, fake, execution.id, "doc_refused")
    step = execution.step("sign")
    assert execution.status == "failed"
    assert step is not None and step.error_code == "signature_refused"
    assert step.error is not None and "was refused: Valor errado" in step.error
    assert execution.step("after") is None


@pytest.mark.parametrize(
    ("end", "status"),
    [("refuse", "refused"), ("expire", "expired"), ("delete", "cancelled")],
)
async def test_with_fail_on_refusal_off_the_outcome_is_data(
    engine: Engine, fake: FakeZapSign, end: str, status: str
) -> None:
    execution = await engine.run(flow(fail_on_refusal=False))
    getattr(fake, end)(fake.only_document()["token"])
    [execution] = await engine.resume_due(datetime.now(UTC) + LATER)
    assert execution.status == "completed"
    step = execution.step("sign")
    assert step is not None and step.data_out is not None
    assert step.data_out["data"]["status"] == status
    assert "signed_file_key" not in step.data_out["data"]
    after = execution.step("after")
    assert after is not None and after.data_out is not None
    assert after.data_out["data"] == {"value": status.upper()}


async def test_events_after_the_end_change_nothing(
    engine: Engine, fake: FakeZapSign, storage: LocalStorage
) -> None:
    execution = await engine.run(flow())
    doc_token = fake.only_document()["token"]
    fake.sign(doc_token, 0)
    fake.sign(doc_token, 1)
    execution = await _resume_with_webhook(engine, fake, execution.id, "doc_signed")
    step = execution.step("sign")
    assert step is not None and step.data_out is not None
    final = step.data_out["data"]
    for event in ("doc_signed", "doc_refused"):
        with pytest.raises(ExecutionError):
            await _resume_with_webhook(engine, fake, execution.id, event)
    stored = await engine.store.get_execution(execution.id)
    again = stored.step("sign")
    assert stored.status == "completed"
    assert again is not None and again.data_out is not None
    assert again.data_out["data"] == final


async def test_a_duplicate_event_while_waiting_keeps_the_progress(
    engine: Engine, fake: FakeZapSign
) -> None:
    execution = await engine.run(flow())
    fake.sign(fake.only_document()["token"], 0)
    await _resume_with_webhook(engine, fake, execution.id, "doc_signed")
    execution = await _resume_with_webhook(engine, fake, execution.id, "doc_signed")
    step = execution.step("sign")
    assert execution.status == "waiting"
    assert step is not None and step.data_out is not None
    assert step.data_out["data"]["signed_count"] == 1


async def test_the_wait_goes_on_until_the_signed_pdf_is_ready(
    engine: Engine, fake: FakeZapSign
) -> None:
    execution = await engine.run(flow())
    doc_token = fake.only_document()["token"]
    fake.sign(doc_token, 0)
    fake.sign(doc_token, 1, ready=False)
    [execution] = await engine.resume_due(datetime.now(UTC) + LATER)
    step = execution.step("sign")
    assert execution.status == "waiting"
    assert step is not None and step.wait is not None and step.wait.resume_at is not None
    assert step.wait.resume_at - datetime.now(UTC) <= timedelta(minutes=1)
    fake.make_signed_file_ready(doc_token)
    [execution] = await engine.resume_due(datetime.now(UTC) + LATER)
    assert execution.status == "completed"


async def test_a_zapsign_outage_while_waiting_postpones_the_check(
    engine: Engine, fake: FakeZapSign
) -> None:
    execution = await engine.run(flow())
    fake.fail_next(503)
    [execution] = await engine.resume_due(datetime.now(UTC) + LATER)
    step = execution.step("sign")
    assert execution.status == "waiting"
    assert step is not None and step.data_out is not None
    assert "ZapSign failed (503)" in step.data_out["data"]["last_error"]
    fake.sign(fake.only_document()["token"], 0)
    fake.sign(fake.only_document()["token"], 1)
    [execution] = await engine.resume_due(datetime.now(UTC) + LATER)
    assert execution.status == "completed"


async def test_secrets_never_reach_the_step_record(engine: Engine, fake: FakeZapSign) -> None:
    execution = await engine.run(flow())
    step = execution.step("sign")
    assert step is not None
    recorded = repr((step.data_in, step.data_out, step.error))
    assert fake.api_token not in recorded
    assert fake.webhook_secret not in recorded
