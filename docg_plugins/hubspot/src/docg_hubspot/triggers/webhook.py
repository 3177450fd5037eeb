"""HubSpot webhook subscriptions: the body is a JSON array of events, signed with v3."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from docg_core.apps import ActionArgument, ActionResult, ArgumentType, BaseTrigger, TriggerType
from docg_core.callbacks import InboundRequest
from docg_core.context import ExecutionContext
from docg_core.errors import StepError

from ..signatures import verify_v3

# Event prefixes (deal.creation) and objectTypeIds (generic object.* events) to API names.
_SUBSCRIPTION_OBJECTS = {
    "contact": "contacts",
    "company": "companies",
    "deal": "deals",
    "ticket": "tickets",
    "product": "products",
    "line_item": "line_items",
    "conversation": "conversations",
}
_OBJECT_TYPE_IDS = {
    "0-1": "contacts",
    "0-2": "companies",
    "0-3": "deals",
    "0-5": "tickets",
    "0-7": "products",
    "0-8": "line_items",
    "0-14": "quotes",
}


def shape_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """One HubSpot event as trigger data, with stable snake_case names."""
    subscription = str(event.get("subscriptionType") or "")
    prefix = subscription.split(".", 1)[0]
    object_type = _SUBSCRIPTION_OBJECTS.get(prefix)
    if object_type is None and event.get("objectTypeId") is not None:
        type_id = str(event["objectTypeId"])
        object_type = _OBJECT_TYPE_IDS.get(type_id, type_id)
    occurred = event.get("occurredAt")
    occurred_at = (
        datetime.fromtimestamp(occurred / 1000, UTC).isoformat().replace("+00:00", "Z")
        if isinstance(occurred, int | float)
        else None
    )
    return {
        "event_id": None if event.get("eventId") is None else str(event["eventId"]),
        "subscription_type": subscription,
        "object_type": object_type,
        "object_id": None if event.get("objectId") is None else str(event["objectId"]),
        "property_name": event.get("propertyName"),
        "property_value": event.get("propertyValue"),
        "change_source": event.get("changeSource"),
        "occurred_at": occurred_at,
        "portal_id": None if event.get("portalId") is None else str(event["portalId"]),
        "attempt_number": event.get("attemptNumber"),
    }


def _events(payload: Any) -> list[Mapping[str, Any]]:
    if isinstance(payload, Mapping) and "body" in payload:
        payload = payload["body"]
    if isinstance(payload, Mapping):
        payload = [payload]
    if not isinstance(payload, list) or not all(isinstance(e, Mapping) for e in payload):
        raise StepError("A HubSpot webhook body is a JSON array of events.", code="invalid_payload")
    return list(payload)


class ObjectEvents(BaseTrigger):
    """Starts a run for the events HubSpot sends to the app's webhook URL."""

    key = "object-events"
    name = "Record events (webhook)"
    description = (
        "Start when HubSpot reports record events (deal.creation, deal.propertyChange, ...) "
        "to the workflow's webhook URL, verified with the connection's client secret."
    )
    trigger_type: ClassVar[TriggerType] = TriggerType.WEBHOOK
    arguments: ClassVar[tuple[ActionArgument, ...]] = (
        ActionArgument(
            key="subscription_types",
            label="Event types",
            type=ArgumentType.STRING,
            multiple=True,
            description="Only these subscription types (e.g. deal.propertyChange); empty: all.",
        ),
        ActionArgument(
            key="property_name",
            label="Property",
            description="Only property changes of this property (e.g. dealstage).",
        ),
        ActionArgument(
            key="property_value",
            label="New value",
            description="Only changes to this value (e.g. closedwon).",
        ),
    )

    def verify_request(
        self, request: InboundRequest, credentials: Mapping[str, Any], parameters: Mapping[str, Any]
    ) -> None:
        """Accept only requests with a valid, fresh ``X-HubSpot-Signature-v3``."""
        secret = credentials.get("client_secret")
        verify_v3(request, secret if isinstance(secret, str) else None)

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        params = ctx.step.parameters
        wanted = {t.strip() for t in params.get("subscription_types") or [] if t and t.strip()}
        events = []
        for raw in _events(ctx.trigger_output):
            event = shape_event(raw)
            if wanted and event["subscription_type"] not in wanted:
                continue
            if params.get("property_name") and event["property_name"] != params["property_name"]:
                continue
            if params.get("property_value") and str(event["property_value"]) != str(
                params["property_value"]
            ):
                continue
            events.append(event)
        if not events:
            raise StepError(
                "No event in the HubSpot request matches this trigger.", code="no_match"
            )
        first = events[0]
        data = {
            **first,
            "events": events,
            "object_ids": list(dict.fromkeys(e["object_id"] for e in events if e["object_id"])),
        }
        return ActionResult(raw=ctx.trigger_output, data=data)
