"""Webhook verification and shaping; polling with a cursor and dedupe keys."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from fakes.hubspot import CLIENT_SECRET, FakeHubSpot, oauth_credentials

import docg_hubspot
from docg_core import Engine, Workflow, get_registry
from docg_core.callbacks import CallbackRejected, InboundRequest
from docg_core.context import AppInfo, ExecutionInfo, FlowInfo, StepInfo, build_context
from docg_core.errors import StepError
from docg_core.store import InMemoryStore
from docg_hubspot.signatures import signature_v3
from docg_hubspot.triggers import ObjectEvents

URL = "https://docg.example/api/v1/hooks/abc%3Adef?x=1"
EVENTS = [
    {
        "eventId": 3816279340,
        "subscriptionId": 25,
        "portalId": 62515,
        "appId": 1160452,
        "occurredAt": 1462216307945,
        "subscriptionType": "deal.propertyChange",
        "attemptNumber": 0,
        "objectId": 1246965,
        "propertyName": "dealstage",
        "propertyValue": "closedwon",
        "changeSource": "CRM",
    },
    {
        "eventId": 3816279341,
        "portalId": 62515,
        "occurredAt": 1462216307946,
        "subscriptionType": "contact.creation",
        "attemptNumber": 0,
        "objectId": 77,
    },
]


def signed(body: bytes, *, secret: str = CLIENT_SECRET, at_ms: int | None = None) -> InboundRequest:
    timestamp = str(int(time.time() * 1000) if at_ms is None else at_ms)
    # HubSpot signs the URI with some percent-encoded characters decoded (%3A is ':').
    signature = signature_v3(secret, "POST", URL.replace("%3A", ":"), body, timestamp)
    return InboundRequest(
        method="POST",
        url=URL,
        headers={
            "x-hubspot-signature-v3": signature,
            "x-hubspot-request-timestamp": timestamp,
            "content-type": "application/json",
        },
        body=body,
    )


def verify(request: InboundRequest, credentials: dict[str, Any] | None = None) -> None:
    ObjectEvents().verify_request(request, credentials or oauth_credentials(), {})


def test_a_signed_fresh_request_is_accepted() -> None:
    verify(signed(json.dumps(EVENTS).encode()))


def test_a_changed_body_is_rejected() -> None:
    request = signed(b'[{"objectId": 1}]')
    forged = InboundRequest(request.method, request.url, request.headers, b'[{"objectId": 2}]')
    with pytest.raises(CallbackRejected, match="does not match"):
        verify(forged)


def test_a_request_signed_with_another_secret_is_rejected() -> None:
    with pytest.raises(CallbackRejected, match="does not match"):
        verify(signed(b"[]", secret="someone-elses-secret"))


def test_a_stale_timestamp_is_rejected() -> None:
    six_minutes_ago = int((time.time() - 360) * 1000)
    with pytest.raises(CallbackRejected, match="more than 5 minutes old"):
        verify(signed(b"[]", at_ms=six_minutes_ago))


def test_missing_headers_are_rejected() -> None:
    with pytest.raises(CallbackRejected, match="no X-HubSpot-Signature-v3"):
        verify(InboundRequest("POST", URL, {}, b"[]"))


def test_a_connection_without_client_secret_rejects_everything() -> None:
    with pytest.raises(CallbackRejected, match="no client_secret"):
        verify(signed(b"[]"), {"private_app_token": "pat-na1-123456"})


def webhook_workflow(parameters: dict[str, Any]) -> Workflow:
    return Workflow.model_validate(
        {
            "name": "hubspot events",
            "trigger": {"app": "hubspot", "key": "object-events", "parameters": parameters},
            "nodes": [],
        }
    )


async def test_events_are_shaped_and_filtered() -> None:
    engine = Engine(registry=get_registry(plugins=[], extra=[docg_hubspot]))
    execution = await engine.run(
        webhook_workflow(
            {"subscription_types": ["deal.propertyChange"], "property_name": "dealstage"}
        ),
        {"body": EVENTS},
    )
    data = execution.trigger_data
    assert data["object_type"] == "deals"
    assert data["object_id"] == "1246965"
    assert data["property_value"] == "closedwon"
    assert data["occurred_at"] == "2016-05-02T19:11:47.945000Z"
    assert data["event_id"] == "3816279340"
    assert data["object_ids"] == ["1246965"]
    assert len(data["events"]) == 1


def test_an_unmatched_payload_is_refused() -> None:
    ctx = build_context(
        store=InMemoryStore(),
        app=AppInfo("hubspot", "HubSpot"),
        flow=FlowInfo(None, "t"),
        step=StepInfo(
            "trigger", "trigger", "hubspot", "object-events", {"property_value": "x"}, "e:t"
        ),
        execution=ExecutionInfo("e"),
        trigger_output=EVENTS,
    )
    with pytest.raises(StepError, match="No event in the HubSpot request matches"):
        asyncio.run(ObjectEvents().run(ctx))


@pytest.fixture
def polling() -> tuple[FakeHubSpot, Engine, Workflow]:
    fake = FakeHubSpot()
    engine = Engine(
        registry=get_registry(plugins=[], extra=[docg_hubspot]),
        store=InMemoryStore(),
        http_transport=fake.transport(),
        connections={"hubspot-main": oauth_credentials()},
    )
    workflow = Workflow.model_validate(
        {
            "name": "updated deals",
            "trigger": {
                "app": "hubspot",
                "key": "new-or-updated-records",
                "connection": "hubspot-main",
                "parameters": {"object_type": "deals", "properties": ["dealname"]},
            },
            "nodes": [],
        }
    )
    return fake, engine, workflow


async def test_polling_starts_once_per_change_and_keeps_a_cursor(
    polling: tuple[FakeHubSpot, Engine, Workflow],
) -> None:
    fake, engine, workflow = polling
    first = fake.add_object("deals", {"dealname": "First"})
    fake.tick(1)
    second = fake.add_object("deals", {"dealname": "Second"})
    started = await engine.poll(workflow)
    assert [e.trigger_data["id"] for e in started] == [first, second]
    request = json.loads(fake.requests[0].content)
    assert request["sorts"] == [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}]
    since = request["filterGroups"][0]["filters"][0]
    assert (since["propertyName"], since["operator"]) == ("hs_lastmodifieddate", "GTE")
    assert request["properties"] == ["dealname", "hs_lastmodifieddate"]

    assert await engine.poll(workflow) == []  # nothing changed: the same items are deduplicated
    cursor = json.loads(fake.requests[1].content)["filterGroups"][0]["filters"][0]["value"]
    assert cursor == fake.object("deals", second)["properties"]["hs_lastmodifieddate"]

    fake.tick(5)
    fake.update_object("deals", first, {"dealname": "First, renamed"})
    again = await engine.poll(workflow)
    assert [e.trigger_data["properties"]["dealname"] for e in again] == ["First, renamed"]


async def test_polling_uses_the_trigger_connection(
    polling: tuple[FakeHubSpot, Engine, Workflow],
) -> None:
    fake, engine, workflow = polling
    await engine.poll(workflow)
    assert fake.requests[0].headers["Authorization"] == "Bearer access-token-123456"
