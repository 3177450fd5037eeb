"""send-for-signature: the requests that build the envelope, the wait, and every ending."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fakes.clicksign import SIGNATURE_MARK, FakeClickSign

from docg_core.errors import RetryableError, StepError, ValidationError
from docg_core.retry import classify_error
from docg_core.storage import LocalStorage

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
TOKEN = "cs-test-token"
JSON_API = "application/vnd.api+json"


def only_envelope(fake: FakeClickSign) -> Any:
    assert len(fake.envelopes) == 1, f"{len(fake.envelopes)} envelopes were created"
    return next(iter(fake.envelopes.values()))


async def test_builds_the_envelope_with_the_documented_requests(fake, run, params) -> None:
    await run("send-for-signature", params)

    calls = fake.calls()
    assert [(m, p.removeprefix("/api/v3/").split("/")[-1]) for m, p, _, _ in calls] == [
        ("POST", "envelopes"),
        ("POST", "documents"),
        ("POST", "signers"),
        ("POST", "signers"),
        ("POST", "requirements"),
        ("POST", "requirements"),
        ("POST", "requirements"),
        ("POST", "requirements"),
        ("PATCH", calls[8][1].split("/")[-1]),
        ("POST", "notifications"),
    ]
    for method, _, headers, _ in calls:
        assert headers["Authorization"] == TOKEN
        assert headers["Accept"] == JSON_API
        if method in ("POST", "PATCH"):
            assert headers["Content-Type"] == JSON_API
    envelope = only_envelope(fake)
    assert all(r.url.host == "sandbox.clicksign.com" for r in fake.requests)

    _, path, _, body = calls[0]
    assert path == "/api/v3/envelopes"
    assert body == {
        "data": {
            "type": "envelopes",
            "attributes": {
                "name": "Contrato Acme",
                "locale": "pt-BR",
                "auto_close": True,
                "block_after_refusal": True,
            },
        }
    }
    _, path, _, body = calls[1]
    assert path == f"/api/v3/envelopes/{envelope.id}/documents"
    assert body["data"]["type"] == "documents"
    assert body["data"]["attributes"]["filename"] == "contrato.pdf"
    prefix = "data:application/pdf;base64,"
    assert body["data"]["attributes"]["content_base64"] == prefix + base64.b64encode(PDF).decode()

    ana, bruno = (c[3]["data"]["attributes"] for c in calls[2:4])
    assert ana == {
        "name": "Ana Souza",
        "email": "ana@example.com",
        "has_documentation": False,
        "refusable": True,
        "communicate_events": {
            "signature_request": "email",
            "signature_reminder": "email",
            "document_signed": "email",
        },
    }
    assert bruno == {
        "name": "Bruno Lima",
        "phone_number": "11987654321",
        "group": 2,
        "has_documentation": False,
        "refusable": True,
        "communicate_events": {
            "signature_request": "whatsapp",
            "signature_reminder": "none",
            "document_signed": "whatsapp",
        },
    }

    (document_id,) = envelope.documents
    ana_id, bruno_id = envelope.signers
    requirements = [c[3]["data"] for c in calls[4:8]]
    assert [r["attributes"] for r in requirements] == [
        {"action": "agree", "role": "sign"},
        {"action": "provide_evidence", "auth": "email"},
        {"action": "agree", "role": "sign"},
        {"action": "provide_evidence", "auth": "whatsapp"},
    ]
    assert [r["relationships"]["signer"]["data"]["id"] for r in requirements] == [
        ana_id,
        ana_id,
        bruno_id,
        bruno_id,
    ]
    assert all(
        r["relationships"]["document"]["data"] == {"type": "documents", "id": document_id}
        for r in requirements
    )
    _, path, _, body = calls[8]
    assert path == f"/api/v3/envelopes/{envelope.id}"
    assert body == {
        "data": {"type": "envelopes", "attributes": {"status": "running"}, "id": envelope.id}
    }
    _, path, _, body = calls[9]
    assert path == f"/api/v3/envelopes/{envelope.id}/notifications"
    assert body == {
        "data": {"type": "notifications", "attributes": {"message": "Por favor, assine."}}
    }
    assert envelope.status == "running"


async def test_waits_with_the_envelope_token_until_the_next_poll(fake, run, params) -> None:
    before = datetime.now(UTC)
    result = await run("send-for-signature", {**params, "poll_interval_minutes": 15})

    envelope = only_envelope(fake)
    assert result.waiting is not None
    assert result.waiting.reason == "signature"
    assert result.waiting.resume_token == f"clicksign:{envelope.id}"
    assert result.waiting.resume_at is not None
    assert timedelta(minutes=15) <= result.waiting.resume_at - before < timedelta(minutes=16)
    assert result.data["envelope_id"] == envelope.id
    assert result.data["status"] == "pending"
    assert [(s["name"], s["status"]) for s in result.data["signers"]] == [
        ("Ana Souza", "pending"),
        ("Bruno Lima", "pending"),
    ]
    assert [s["id"] for s in result.data["signers"]] == list(envelope.signers)


async def test_a_retried_step_reuses_the_envelope(fake, run, params) -> None:
    first = await run("send-for-signature", params)
    second = await run("send-for-signature", params, attempt=2)

    assert second.data == first.data
    envelope = only_envelope(fake)
    assert len(envelope.documents) == 1
    assert len(envelope.signers) == 2
    assert len(envelope.requirements) == 4
    assert len(envelope.notifications) == 1
    assert len(fake.calls("POST", "/envelopes")) == 1


async def test_a_retry_after_a_failure_midway_continues_where_it_stopped(fake, run, params) -> None:
    fake.fail_on("POST", "/requirements", 503, nth=3)  # ClickSign fails on the third one

    with pytest.raises(RetryableError):
        await run("send-for-signature", params)
    assert len(only_envelope(fake).requirements) == 2
    result = await run("send-for-signature", params, attempt=2)

    envelope = only_envelope(fake)
    assert len(envelope.documents) == 1
    assert len(envelope.signers) == 2
    assert len(envelope.requirements) == 4
    assert envelope.status == "running"
    assert len(envelope.notifications) == 1
    assert result.waiting is not None
    assert result.waiting.resume_token == f"clicksign:{envelope.id}"


# -- resuming: polling fallback and callbacks -------------------------------------------------


async def test_polling_while_pending_waits_again_and_records_progress(
    fake, run, resume, params
) -> None:
    await run("send-for-signature", params)
    envelope = only_envelope(fake)
    fake.sign(envelope.id, "ana@example.com")
    before = datetime.now(UTC)

    result = await resume({"timeout": True})

    assert result.waiting is not None
    assert result.waiting.resume_token == f"clicksign:{envelope.id}"
    assert result.waiting.resume_at is not None and result.waiting.resume_at >= before + timedelta(
        minutes=60
    )
    assert result.data["status"] == "pending"
    assert [(s["name"], s["status"]) for s in result.data["signers"]] == [
        ("Ana Souza", "signed"),
        ("Bruno Lima", "pending"),
    ]
    assert result.data["signers"][0]["signed_at"] is not None
    assert result.data["progress"] == {"signed": 1, "refused": 0, "pending": 1}


async def test_all_signed_stores_the_signed_pdf_once_under_an_outputs_key(
    fake, run, resume, params, storage: LocalStorage
) -> None:
    await run("send-for-signature", params)
    envelope = only_envelope(fake)
    fake.sign(envelope.id, "ana@example.com")
    fake.sign(envelope.id, list(envelope.signers)[1])

    result = await resume({"event": "auto_close", "envelope_id": envelope.id})

    assert result.waiting is None
    assert result.data["status"] == "signed"
    assert [s["status"] for s in result.data["signers"]] == ["signed", "signed"]
    key = result.data["signed_file_key"]
    assert key.startswith("docg/local/outputs/") and key.endswith(".pdf")
    assert await storage.get(key) == PDF + SIGNATURE_MARK
    assert result.data["signed_at"] == result.data["signers"][1]["signed_at"]
    download = [r for r in fake.requests if r.url.host != "sandbox.clicksign.com"]
    assert len(download) == 1
    assert "Authorization" not in download[0].headers  # the token never leaves the API host


async def test_the_signed_file_not_ready_yet_waits_a_minute(fake, run, resume, params) -> None:
    await run("send-for-signature", params)
    envelope = only_envelope(fake)
    for signer in list(envelope.signers):
        fake.sign(envelope.id, signer)
    fake.signed_file_ready = False
    before = datetime.now(UTC)

    result = await resume({"timeout": True})

    assert result.waiting is not None
    assert result.waiting.resume_at is not None
    assert result.waiting.resume_at - before < timedelta(minutes=2)
    assert result.data["status"] == "signed"
    assert "signed_file_key" not in result.data


@pytest.mark.parametrize(
    ("settle", "outcome"),
    [
        (lambda f, e: f.refuse(e.id, "ana@example.com"), "refused"),
        (lambda f, e: f.expire(e.id), "expired"),
        (lambda f, e: f.cancel(e.id), "cancelled"),
    ],
)
async def test_an_unsigned_ending_succeeds_with_its_status(
    fake, run, resume, params, settle, outcome
) -> None:
    await run("send-for-signature", params)
    envelope = only_envelope(fake)
    settle(fake, envelope)

    result = await resume({"timeout": True})

    assert result.waiting is None
    assert result.data["status"] == outcome
    assert "signed_file_key" not in result.data


async def test_fail_on_refusal_fails_the_step_with_a_code(fake, run, resume, params) -> None:
    strict = {**params, "fail_on_refusal": True}
    await run("send-for-signature", strict)
    envelope = only_envelope(fake)
    fake.refuse(envelope.id, "ana@example.com")

    with pytest.raises(StepError) as caught:
        await resume({"event": "refusal", "envelope_id": envelope.id}, strict)

    assert not isinstance(caught.value, RetryableError)
    assert caught.value.code == "signature_refused"
    assert envelope.id in caught.value.message
    assert caught.value.details["status"] == "refused"


async def test_a_late_sign_event_after_cancellation_ends_cancelled(
    fake, run, resume, params
) -> None:
    await run("send-for-signature", params)
    envelope = only_envelope(fake)
    fake.sign(envelope.id, "ana@example.com")
    fake.cancel(envelope.id)

    result = await resume(
        {"event": "sign", "envelope_id": envelope.id, "signer": {"email": "bruno@example.com"}}
    )

    assert result.data["status"] == "cancelled"
    assert [s["status"] for s in result.data["signers"]] == ["signed", "pending"]


async def test_a_callback_for_another_envelope_is_refused_and_the_step_keeps_waiting(
    fake, run, resume, params
) -> None:
    await run("send-for-signature", params)

    with pytest.raises(ValidationError, match="other-envelope"):
        await resume({"event": "sign", "envelope_id": "other-envelope"})
    assert fake.calls("GET") == []


# -- inputs, tenants and environments ----------------------------------------------------------


async def test_a_tenant_cannot_send_another_organizations_file(fake, run, params) -> None:
    with pytest.raises(StepError) as caught:
        await run("send-for-signature", params, organization_id="org-b")

    assert caught.value.code == "file_not_found"
    assert "not one of this organization's files" in caught.value.message
    assert fake.requests == []


async def test_a_file_that_is_not_a_pdf_is_refused_before_any_request(
    fake, run, params, storage: LocalStorage
) -> None:
    await storage.put("docg/local/outputs/notes.txt", b"hello")

    with pytest.raises(StepError, match="not a PDF"):
        await run("send-for-signature", {**params, "document": "docg/local/outputs/notes.txt"})
    assert fake.requests == []


async def test_production_connections_call_the_production_host(fake, run, params) -> None:
    await run("send-for-signature", params, auth={"api_token": TOKEN, "environment": "production"})

    assert {r.url.host for r in fake.requests} == {"app.clicksign.com"}


async def test_signers_without_the_contact_their_channel_needs_are_refused(
    fake, run, params
) -> None:
    signers = [
        {"name": "Ana", "email": "ana@example.com"},
        {"name": "Bruno Lima", "auth": "whatsapp"},
        {"name": "Carla Dias", "email": "carla@example.com", "auth": "fax"},
    ]

    with pytest.raises(ValidationError) as caught:
        await run("send-for-signature", {**params, "signers": signers})

    text = str(caught.value)
    assert "signers[0].name" in text
    assert "signers[1].phone" in text
    assert "signers[2].auth" in text
    assert fake.requests == []


def test_literal_signer_problems_are_reported_when_the_workflow_is_saved() -> None:
    from docg_clicksign.actions import SendForSignature

    problems = SendForSignature.check_parameters(
        {"signers": [{"name": "Ana Souza", "auth": "sms"}, {"name": "{{trigger.name}}"}]}
    )

    assert problems == [
        "signers[0].phone: a Brazilian number with area code (10 or 11 digits) is required "
        "for SMS or WhatsApp"
    ]


# -- vendor errors ---------------------------------------------------------------------------


async def test_a_rejected_token_is_a_permanent_error_naming_the_connection(
    fake, run, params
) -> None:
    with pytest.raises(StepError) as caught:
        await run("send-for-signature", params, auth={"api_token": "wrong"})

    assert not isinstance(caught.value, RetryableError)
    assert caught.value.code == "clicksign_401"
    assert "access token" in caught.value.message
    assert "Access Token inválido" in caught.value.message
    assert "wrong" not in caught.value.message


async def test_a_validation_error_reports_clicksign_details(fake, run, params) -> None:
    signers = [{"name": "Ana Souza 2", "email": "ana@example.com"}]  # ClickSign: no digits

    with pytest.raises(StepError) as caught:
        await run("send-for-signature", {**params, "signers": signers})

    assert not isinstance(caught.value, RetryableError)
    assert caught.value.code == "clicksign_422"
    assert "could not process" in caught.value.message
    assert "name deve conter nome e sobrenome (/data/attributes/name)" in caught.value.message


async def test_rate_limiting_is_retryable_after_the_announced_delay(fake, run, params) -> None:
    fake.fail_next(429, headers={"Retry-After": "7"})

    with pytest.raises(RetryableError) as caught:
        await run("send-for-signature", params)

    assert caught.value.code == "clicksign_429"
    assert caught.value.retry_after == 7.0


async def test_rate_limiting_without_retry_after_uses_the_reset_time(fake, run, params) -> None:
    import time

    reset = int(time.time()) + 30
    fake.fail_next(429, headers={"Retry-After": "", "X-Rate-Limit-Reset": str(reset)})

    with pytest.raises(RetryableError) as caught:
        await run("send-for-signature", params)

    assert caught.value.retry_after is not None and 25 <= caught.value.retry_after <= 30


@pytest.mark.parametrize(
    ("status", "retryable"), [(404, False), (409, False), (500, True), (502, True)]
)
async def test_other_statuses_map_to_retryable_or_not(fake, run, params, status, retryable) -> None:
    fake.fail_next(status)

    with pytest.raises(StepError) as caught:
        await run("send-for-signature", params)

    assert isinstance(classify_error(caught.value), RetryableError) is retryable
    assert caught.value.code == f"clicksign_{status}"
