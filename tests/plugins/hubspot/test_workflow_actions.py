"""Custom workflow action requests (v2 signature) and the answers HubSpot expects."""

from __future__ import annotations

import json

import httpx
import pytest
from fakes.hubspot import ACCESS_TOKEN, FakeHubSpot

from docg_core.callbacks import CallbackRejected, InboundRequest
from docg_core.errors import StepError
from docg_hubspot.signatures import signature_v2
from docg_hubspot.workflow_actions import (
    action_response,
    blocked_response,
    callback_completion,
    complete_callback,
    parse_workflow_action_request,
    verify_workflow_action_request,
)

SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
ACTION_URL = "https://docg.example/api/v1/hubspot/actions/generate"
BODY = json.dumps(
    {
        "callbackId": "ap-102670506-56777914962-11-0",
        "origin": {
            "portalId": 102670506,
            "actionDefinitionId": 10860211,
            "actionDefinitionVersion": 1,
        },
        "context": {"source": "WORKFLOWS", "workflowId": 192814114},
        "object": {"objectId": 614, "objectType": "DEAL"},
        "inputFields": {"template": "contrato"},
    }
).encode()


def test_signature_v2_matches_hubspots_documented_examples() -> None:
    assert signature_v2(SECRET, "GET", "https://www.example.com/webhook_uri", b"") == (
        "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e"
    )
    body = b'{"example_field":"example_value"}'
    assert signature_v2(SECRET, "POST", "https://www.example.com/webhook_uri", body) == (
        "9569219f8ba981ffa6f6f16aa0f48637d35d728c7e4d93d0d52efaa512af7900"
    )


def request(body: bytes, signature: str | None, version: str = "v2") -> InboundRequest:
    headers = {"content-type": "application/json", "x-hubspot-signature-version": version}
    if signature is not None:
        headers["x-hubspot-signature"] = signature
    return InboundRequest("POST", ACTION_URL, headers, body)


def test_a_signed_action_request_is_accepted_and_parsed() -> None:
    incoming = request(BODY, signature_v2(SECRET, "POST", ACTION_URL, BODY))
    verify_workflow_action_request(incoming, SECRET)
    parsed = parse_workflow_action_request(incoming)
    assert parsed.callback_id == "ap-102670506-56777914962-11-0"
    assert (parsed.object_type, parsed.object_id) == ("DEAL", "614")
    assert (parsed.portal_id, parsed.workflow_id) == ("102670506", "192814114")
    assert parsed.input_fields == {"template": "contrato"}


@pytest.mark.parametrize(
    ("incoming", "reason"),
    [
        (request(BODY + b" ", signature_v2(SECRET, "POST", ACTION_URL, BODY)), "does not match"),
        (request(BODY, signature_v2("other-secret", "POST", ACTION_URL, BODY)), "does not match"),
        (request(BODY, None), "no X-HubSpot-Signature header"),
        (request(BODY, signature_v2(SECRET, "POST", ACTION_URL, BODY), "v1"), "expected a v2"),
    ],
)
def test_forged_action_requests_are_rejected(incoming: InboundRequest, reason: str) -> None:
    with pytest.raises(CallbackRejected, match=reason):
        verify_workflow_action_request(incoming, SECRET)


def test_a_body_without_callback_id_is_not_an_action_request() -> None:
    with pytest.raises(CallbackRejected, match="no callbackId"):
        parse_workflow_action_request(request(b'{"object": {}}', None))


def test_responses_carry_output_fields_and_execution_state() -> None:
    assert action_response({"document_url": "https://x/y.pdf", "pages": 3}) == {
        "outputFields": {"document_url": "https://x/y.pdf", "pages": 3}
    }
    assert action_response({"ok": "yes"}, state="SUCCESS") == {
        "outputFields": {"ok": "yes", "hs_execution_state": "SUCCESS"}
    }
    assert blocked_response("PT12H") == {
        "outputFields": {"hs_execution_state": "BLOCK", "hs_expiration_duration": "PT12H"}
    }
    with pytest.raises(ValueError, match="state must be one of"):
        action_response({}, state="DONE")
    with pytest.raises(ValueError, match="must be text or a number"):
        action_response({"nested": {"a": 1}})


def test_callback_completion_names_the_v4_endpoint() -> None:
    url, body = callback_completion("ap-1-2-3", {"document_url": "u"})
    assert url == "https://api.hubapi.com/automation/v4/actions/callbacks/ap-1-2-3/complete"
    assert body == {"outputFields": {"document_url": "u", "hs_execution_state": "SUCCESS"}}


async def test_complete_callback_posts_the_outputs() -> None:
    fake = FakeHubSpot()
    async with httpx.AsyncClient(transport=fake.transport()) as http:
        await complete_callback(http, "ap-1-2-3", {"document_url": "u"}, access_token=ACCESS_TOKEN)
    [sent] = fake.requests
    assert sent.method == "POST"
    assert sent.url.path == "/automation/v4/actions/callbacks/ap-1-2-3/complete"
    assert sent.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert fake.completed_callbacks == [
        {
            "callbackId": "ap-1-2-3",
            "outputFields": {"document_url": "u", "hs_execution_state": "SUCCESS"},
        }
    ]


async def test_complete_callback_with_an_expired_token_fails_clearly() -> None:
    fake = FakeHubSpot()
    fake.expire(ACCESS_TOKEN)
    async with httpx.AsyncClient(transport=fake.transport()) as http:
        with pytest.raises(StepError, match="did not accept the connection's credentials"):
            await complete_callback(http, "ap-1", {}, access_token=ACCESS_TOKEN)
