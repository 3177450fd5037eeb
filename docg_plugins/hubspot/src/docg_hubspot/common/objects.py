"""CRM object types, records as workflows see them, batch reads and paged searches."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from docg_core.context import ExecutionContext
from docg_core.errors import ValidationError

from .client import hubspot_json

__all__ = [
    "STANDARD_OBJECT_TYPES",
    "batch_read",
    "check_object_type",
    "object_path",
    "property_list",
    "record_data",
    "search_pages",
]

STANDARD_OBJECT_TYPES: dict[str, str] = {
    "contacts": "Contacts",
    "companies": "Companies",
    "deals": "Deals",
    "line_items": "Line items",
    "quotes": "Quotes",
    "products": "Products",
    "tickets": "Tickets",
    "notes": "Notes",
}
"""Standard object types by their API name, with labels."""

# Standard names, object type ids ("0-3", "2-1234") or fully qualified custom names.
_OBJECT_TYPE = re.compile(r"^(?:[a-z][a-z0-9_]*|\d+-\d+|p\d*_[a-z0-9_]+)$")
# HubSpot answers at most 100 ids per batch read and 200 records per search page.
BATCH_SIZE = 100
SEARCH_PAGE_SIZE = 200


def check_object_type(value: str) -> str:
    """The object type, trimmed and lower-cased; ``ValidationError`` if it cannot be one."""
    text = str(value).strip()
    lowered = text.lower()
    if not _OBJECT_TYPE.match(lowered):
        raise ValidationError(
            f"object_type {value!r} is not a HubSpot object type: use a standard name "
            f"({', '.join(STANDARD_OBJECT_TYPES)}) or a custom object's id such as 2-1234"
        )
    return lowered


def object_path(object_type: str, object_id: str | None = None) -> str:
    """``/crm/v3/objects/{type}[/{id}]`` with the id escaped."""
    path = f"/crm/v3/objects/{quote(object_type, safe='')}"
    return path if object_id is None else f"{path}/{quote(str(object_id), safe='')}"


def property_list(value: Any) -> list[str]:
    """Property names from a list or comma-separated text, in order, without duplicates."""
    if value is None:
        return []
    items: Iterable[Any] = [value] if isinstance(value, str) else value
    names: list[str] = []
    for item in items:
        for name in str(item).split(","):
            name = name.strip()
            if name and name not in names:
                names.append(name)
    return names


def record_data(record: Mapping[str, Any]) -> dict[str, Any]:
    """A HubSpot record as step data: ``id``, ``properties``, ``created_at``, ``updated_at``."""
    return {
        "id": str(record.get("id")),
        "properties": dict(record.get("properties") or {}),
        "created_at": record.get("createdAt"),
        "updated_at": record.get("updatedAt"),
    }


async def batch_read(
    ctx: ExecutionContext, object_type: str, ids: Sequence[str], properties: Sequence[str]
) -> list[dict[str, Any]]:
    """Records of ``ids`` (``POST /crm/v3/objects/{type}/batch/read``), in the order of
    ``ids``; ids HubSpot does not return are left out."""
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), BATCH_SIZE):
        chunk = ids[start : start + BATCH_SIZE]
        body: dict[str, Any] = {
            "inputs": [{"id": i} for i in chunk],
            "properties": list(properties),
            "propertiesWithHistory": [],
        }
        answer = await hubspot_json(
            ctx,
            "POST",
            object_path(object_type) + "/batch/read",
            what=f"{object_type} records",
            json=body,
            params={"archived": "false"},
        )
        for record in (answer or {}).get("results", []):
            found[str(record.get("id"))] = record
    return [found[i] for i in ids if i in found]


async def search_pages(
    ctx: ExecutionContext, object_type: str, body: Mapping[str, Any], limit: int
) -> tuple[list[dict[str, Any]], int | None, str | None]:
    """Run a CRM search, following ``paging.next.after`` until ``limit`` records.

    Returns the records, HubSpot's ``total``, and the ``after`` cursor of the next page
    (None when everything was read).
    """
    records: list[dict[str, Any]] = []
    after: str | None = None
    total: int | None = None
    while len(records) < limit:
        page = dict(body)
        page["limit"] = min(SEARCH_PAGE_SIZE, limit - len(records))
        if after is not None:
            page["after"] = after
        answer = await hubspot_json(
            ctx,
            "POST",
            object_path(object_type) + "/search",
            what=f"a search of {object_type}",
            json=page,
        )
        answer = answer or {}
        total = answer.get("total", total)
        records.extend(answer.get("results", []))
        after = ((answer.get("paging") or {}).get("next") or {}).get("after")
        if not after:
            return records, total, None
    return records, total, after
