"""Poll for records created or updated since the last poll."""

from __future__ import annotations

import time
from typing import Any, ClassVar

from docg_core.apps import (
    ActionArgument,
    ArgumentType,
    BaseTrigger,
    DropdownOption,
    TriggerItem,
    TriggerType,
)
from docg_core.context import ExecutionContext

from ..actions._arguments import OBJECT_TYPE, PROPERTIES
from ..actions.search_objects import filter_groups
from ..common.objects import check_object_type, property_list, record_data, search_pages


def timestamp_property(object_type: str, mode: str) -> str:
    """The property holding a record's creation or last modification time."""
    if mode == "created":
        return "createdate"
    return "lastmodifieddate" if object_type == "contacts" else "hs_lastmodifieddate"


class NewOrUpdatedRecords(BaseTrigger):
    """Searches records whose creation / modification time is at or after the cursor kept in
    the datastore, oldest first; each item's dedupe key is its id (+ modification time)."""

    key = "new-or-updated-records"
    name = "New or updated records (polling)"
    description = "Start once per record created (or changed) in HubSpot since the last poll."
    trigger_type: ClassVar[TriggerType] = TriggerType.POLLING
    arguments: ClassVar[tuple[ActionArgument, ...]] = (
        OBJECT_TYPE,
        ActionArgument(
            key="event",
            label="When a record is",
            type=ArgumentType.DROPDOWN,
            default="updated",
            options=(
                DropdownOption("created", "Created"),
                DropdownOption("updated", "Created or updated"),
            ),
        ),
        PROPERTIES,
        ActionArgument(
            key="filters",
            label="Filters",
            type=ArgumentType.JSON,
            description="Extra search filters, as in the search action.",
        ),
        ActionArgument(
            key="lookback_minutes",
            label="First poll looks back (minutes)",
            type=ArgumentType.NUMBER,
            default=60,
        ),
        ActionArgument(
            key="max_items", label="Most records per poll", type=ArgumentType.NUMBER, default=100
        ),
    )

    async def poll(self, ctx: ExecutionContext) -> list[TriggerItem]:
        params = ctx.step.parameters
        object_type = check_object_type(params["object_type"])
        mode = params.get("event") or "updated"
        stamp = timestamp_property(object_type, mode)
        cursor_key = f"hubspot:poll:{object_type}:{mode}"
        cursor = await ctx.datastore.get(cursor_key)
        if cursor is None:
            lookback = float(params.get("lookback_minutes") or 0)
            cursor = int((time.time() - lookback * 60) * 1000)
        since = {"propertyName": stamp, "operator": "GTE", "value": str(cursor)}
        groups = filter_groups(params.get("filters")) or [{"filters": []}]
        body: dict[str, Any] = {
            "filterGroups": [{"filters": [*g["filters"], since]} for g in groups],
            "sorts": [{"propertyName": stamp, "direction": "ASCENDING"}],
            "properties": list(dict.fromkeys([*property_list(params.get("properties")), stamp])),
        }
        records, _, _ = await search_pages(
            ctx, object_type, body, int(params.get("max_items") or 100)
        )
        items = []
        newest = int(cursor)
        for record in records:
            data = {"object_type": object_type, **record_data(record)}
            changed = _millis(data["properties"].get(stamp)) or _millis(
                data["updated_at" if mode == "updated" else "created_at"]
            )
            newest = max(newest, changed or 0)
            key = (
                f"{object_type}:{data['id']}"
                if mode == "created"
                else (f"{object_type}:{data['id']}:{changed}")
            )
            items.append(TriggerItem(dedupe_key=key, data=data))
        # Kept inclusive (GTE): records changed in the same millisecond as the newest one
        # are found again next time and skipped by their dedupe key.
        await ctx.datastore.set(cursor_key, newest)
        return items


def _millis(value: Any) -> int | None:
    """Milliseconds since the epoch from HubSpot's timestamp values (ms text or ISO 8601)."""
    from datetime import datetime

    if value in (None, ""):
        return None
    text = str(value)
    if text.isdigit():
        return int(text)
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None
