"""ZapSign webhooks: parsed into the waiting step's event, accepted only with the secret."""

from __future__ import annotations

import dataclasses
import json

import pytest
from fakes.zapsign import FakeZapSign

from docg_core.callbacks import CallbackRejected, InboundRequest
from docg_zapsign.app import ZapSignApp

APP = ZapSignApp()


def _document(fake: FakeZapSign) -> str:
    fake.documents["d0c-1"] = {"token": "d0c-1", "status": "pending", "signers": []}
    return "d0c-1"


@pytest.mark.parametrize(
    ("event", "status"),
    [
        ("doc_signed", "pending"),
        ("doc_refused", "refused"),
        ("doc_deleted", "pending"),
        ("doc_expired", "pending"),
    ],
)
def test_document_events_resume_the_step_waiting_on_the_document(
    fake: FakeZapSign, event: str, status: str
) -> None:
    token = _document(fake)
    [callback] = APP.parse_callback(fake.webhook_request(token, event))
    assert callback.resume_token == "zapsign:d0c-1"
    assert callback.payload == {"event": event, "doc_token": "d0c-1", "status": status}
    assert callback.event_id is not None and callback.event_id.startswith(f"{event}:")


@pytest.mark.parametrize("event", ["doc_created", "doc_viewed", "email_bounce"])
def test_other_events_concern_no_waiting_step(fake: FakeZapSign, event: str) -> None:
    assert APP.parse_callback(fake.webhook_request(_document(fake), event)) == []


def test_a_redelivery_has_the_same_event_id_and_a_new_event_another(fake: FakeZapSign) -> None:
    token = _document(fake)
    first = APP.parse_callback(fake.webhook_request(token, "doc_signed"))
    again = APP.parse_callback(fake.webhook_request(token, "doc_signed"))
    fake.documents[token]["status"] = "signed"
    later = APP.parse_callback(fake.webhook_request(token, "doc_signed"))
    assert first[0].event_id == again[0].event_id
    assert later[0].event_id != first[0].event_id


def test_a_body_that_is_not_json_is_rejected() -> None:
    request = InboundRequest("POST", "https://docg.example/hook", {}, b"<xml/>")
    with pytest.raises(CallbackRejected):
        APP.parse_callback(request)


def test_a_body_without_a_document_token_concerns_nothing() -> None:
    body = json.dumps({"event_type": "doc_signed"}).encode()
    assert APP.parse_callback(InboundRequest("POST", "https://docg.example/h", {}, body)) == []


def test_an_authentic_delivery_is_accepted(fake: FakeZapSign) -> None:
    request = fake.webhook_request(_document(fake), "doc_signed")
    APP.verify_callback(request, {"webhook_secret": fake.webhook_secret, "api_token": "x"})


def test_a_forged_delivery_is_rejected(fake: FakeZapSign) -> None:
    request = fake.webhook_request(_document(fake), "doc_signed", secret="guessed-secret")
    with pytest.raises(CallbackRejected, match="wrong secret"):
        APP.verify_callback(request, {"webhook_secret": fake.webhook_secret})


def test_a_delivery_without_the_header_is_rejected(fake: FakeZapSign) -> None:
    request = fake.webhook_request(_document(fake), "doc_signed", secret="")
    with pytest.raises(CallbackRejected, match="no Authorization header"):
        APP.verify_callback(request, {"webhook_secret": fake.webhook_secret})


def test_the_secret_must_be_the_whole_header(fake: FakeZapSign) -> None:
    request = fake.webhook_request(_document(fake), "doc_signed")
    padded = dataclasses.replace(
        request, headers={**request.headers, "authorization": f"Bearer {fake.webhook_secret}x"}
    )
    with pytest.raises(CallbackRejected):
        APP.verify_callback(padded, {"webhook_secret": fake.webhook_secret})


@pytest.mark.parametrize("credentials", [{}, {"webhook_secret": ""}, {"webhook_secret": None}])
def test_a_connection_without_a_webhook_secret_accepts_nothing(
    fake: FakeZapSign, credentials: dict[str, object]
) -> None:
    request = fake.webhook_request(_document(fake), "doc_signed", secret="")
    with pytest.raises(CallbackRejected, match="no webhook_secret"):
        APP.verify_callback(request, credentials)
