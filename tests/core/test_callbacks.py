"""The inbound-request contract plugins implement: webhook verification and callbacks."""

from __future__ import annotations

import pytest

from docg_core.apps import BaseApp, BaseTrigger
from docg_core.callbacks import CallbackEvent, CallbackRejected, InboundRequest


def _request(body: bytes = b'{"a": 1}') -> InboundRequest:
    return InboundRequest(
        method="POST",
        url="https://docg.example/api/v1/x",
        headers={"x-signature": "abc"},
        body=body,
    )


def test_headers_are_read_case_insensitively() -> None:
    assert _request().header("X-Signature") == "abc"
    assert _request().header("missing") is None


def test_a_body_that_is_not_json_is_rejected() -> None:
    assert _request().json() == {"a": 1}
    with pytest.raises(CallbackRejected, match="not JSON"):
        _request(b"<xml/>").json()


def test_by_default_apps_parse_no_callbacks_and_verify_none() -> None:
    class App(BaseApp):
        key = "plain"
        name = "Plain"

    assert App().parse_callback(_request()) == []
    with pytest.raises(CallbackRejected, match="does not accept callbacks"):
        App().verify_callback(_request(), {})


def test_by_default_a_trigger_accepts_every_request() -> None:
    class Hook(BaseTrigger):
        key = "hook"
        name = "Hook"

    assert Hook().verify_request(_request(), {}, {}) is None


def test_a_callback_event_names_the_waiting_step_by_token() -> None:
    event = CallbackEvent("sig:env-1", {"status": "signed"}, event_id="evt-1")
    assert (event.resume_token, event.payload["status"], event.event_id) == (
        "sig:env-1",
        "signed",
        "evt-1",
    )
