"""ClickSign webhooks: Content-Hmac verification and the events that resume a step."""

from __future__ import annotations

import pytest
from fakes.clicksign import FakeClickSign

from docg_clicksign.app import ClickSignApp
from docg_core.callbacks import CallbackRejected, InboundRequest

CREDENTIALS = {"api_token": "cs-test-token", "webhook_secret": "cs-webhook-secret"}


@pytest.fixture
def envelope_id(fake: FakeClickSign) -> str:
    return fake.add_envelope(signers=[{"name": "Ana Souza", "email": "ana@example.com"}]).id


def test_a_correctly_signed_webhook_is_accepted(fake, envelope_id) -> None:
    request = fake.webhook_request(envelope_id, "sign", "ana@example.com")

    ClickSignApp().verify_callback(request, CREDENTIALS)  # no exception: authentic


def test_a_webhook_signed_with_another_secret_is_rejected(fake, envelope_id) -> None:
    forged = fake.webhook_request(envelope_id, "auto_close", secret="guessed-secret")

    with pytest.raises(CallbackRejected, match="does not match"):
        ClickSignApp().verify_callback(forged, CREDENTIALS)


def test_a_tampered_body_is_rejected(fake, envelope_id) -> None:
    body, headers = fake.webhook(envelope_id, "sign", "ana@example.com")
    tampered = InboundRequest(
        "POST", "https://docg.example/hook", headers, body.replace(b"sign", b"auto_close", 1)
    )

    with pytest.raises(CallbackRejected):
        ClickSignApp().verify_callback(tampered, CREDENTIALS)


def test_a_webhook_without_signature_is_rejected(fake, envelope_id) -> None:
    body, headers = fake.webhook(envelope_id, "auto_close")
    del headers["content-hmac"]
    request = InboundRequest("POST", "https://docg.example/hook", headers, body)

    with pytest.raises(CallbackRejected, match="no Content-Hmac"):
        ClickSignApp().verify_callback(request, CREDENTIALS)


def test_a_connection_without_webhook_secret_rejects_every_webhook(fake, envelope_id) -> None:
    request = fake.webhook_request(envelope_id, "auto_close")

    with pytest.raises(CallbackRejected, match="webhook_secret"):
        ClickSignApp().verify_callback(request, {"api_token": "cs-test-token"})


def test_a_sign_event_resumes_the_envelopes_step(fake, envelope_id) -> None:
    request = fake.webhook_request(envelope_id, "sign", "ana@example.com")

    (event,) = ClickSignApp().parse_callback(request)

    assert event.resume_token == f"clicksign:{envelope_id}"
    assert event.payload["event"] == "sign"
    assert event.payload["envelope_id"] == envelope_id
    assert event.payload["signer"]["email"] == "ana@example.com"
    assert event.event_id


@pytest.mark.parametrize("name", ["refusal", "auto_close", "close", "cancel", "deadline"])
def test_every_settling_event_resumes_the_step(fake, envelope_id, name) -> None:
    (event,) = ClickSignApp().parse_callback(fake.webhook_request(envelope_id, name))

    assert event.resume_token == f"clicksign:{envelope_id}"
    assert event.payload["event"] == name


@pytest.mark.parametrize("name", ["upload", "add_signer", "acceptance_term_sent"])
def test_events_that_settle_nothing_are_ignored(fake, envelope_id, name) -> None:
    assert ClickSignApp().parse_callback(fake.webhook_request(envelope_id, name)) == []


def test_a_redelivered_event_has_the_same_event_id(fake, envelope_id) -> None:
    body, headers = fake.webhook(envelope_id, "auto_close")
    request = InboundRequest("POST", "https://docg.example/hook", headers, body)
    other = fake.webhook_request(envelope_id, "sign", "ana@example.com")

    first = ClickSignApp().parse_callback(request)[0].event_id
    again = ClickSignApp().parse_callback(request)[0].event_id

    assert first == again
    assert ClickSignApp().parse_callback(other)[0].event_id != first


def test_a_body_that_is_not_json_is_rejected() -> None:
    request = InboundRequest("POST", "https://docg.example/hook", {}, b"<xml/>")

    with pytest.raises(CallbackRejected, match="not JSON"):
        ClickSignApp().parse_callback(request)


def test_the_envelope_id_is_found_inside_the_document_too() -> None:
    body = b'{"event": {"name": "sign", "data": {}}, "document": {"key": "d1", "envelope": {"id": "env-9"}}}'
    request = InboundRequest("POST", "https://docg.example/hook", {}, body)

    (event,) = ClickSignApp().parse_callback(request)

    assert event.resume_token == "clicksign:env-9"
