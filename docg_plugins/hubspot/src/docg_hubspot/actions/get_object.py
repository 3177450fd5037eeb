"""Get one CRM record with chosen properties and its associated records."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from docg_core.apps import ActionArgument, ActionResult, ArgumentType, BaseAction
from docg_core.context import ExecutionContext
from docg_core.errors import ValidationError

from ..common.client import hubspot_json
from ..common.objects import batch_read, check_object_type, object_path, property_list, record_data
from ._arguments import ID_PROPERTY, OBJECT_ID, OBJECT_TYPE, PROPERTIES


class GetObject(BaseAction):
    """``GET /crm/v3/objects/{type}/{id}?properties=...&associations=...``, then one batch read
    per associated type, so a deal arrives with its contacts, company and line items."""

    key = "get-object"
    name = "Get record"
    description = (
        "Read a deal, contact, company, line item, quote or custom object record with the "
        "properties you choose and, in the same output, its associated records."
    )
    arguments: ClassVar[tuple[ActionArgument, ...]] = (
        OBJECT_TYPE,
        OBJECT_ID,
        PROPERTIES,
        ActionArgument(
            key="associations",
            label="Associated object types",
            type=ArgumentType.STRING,
            multiple=True,
            description="Object types whose associated records to include (e.g. contacts, "
            "companies, line_items).",
        ),
        ActionArgument(
            key="association_properties",
            label="Properties of associated records",
            type=ArgumentType.JSON,
            description='Properties to read per associated type: {"contacts": ["email"]}. '
            "Default: HubSpot's default properties.",
        ),
        ID_PROPERTY,
    )

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        params = ctx.step.parameters
        object_type = check_object_type(params["object_type"])
        properties = property_list(params.get("properties"))
        associated = [check_object_type(t) for t in property_list(params.get("associations"))]
        per_type = _association_properties(params.get("association_properties"))
        query: dict[str, Any] = {"archived": "false"}
        if properties:
            query["properties"] = ",".join(properties)
        if associated:
            query["associations"] = ",".join(associated)
        if params.get("id_property"):
            query["idProperty"] = params["id_property"]
        record = await hubspot_json(
            ctx,
            "GET",
            object_path(object_type, params["object_id"]),
            what=f"{object_type} record {params['object_id']}",
            params=query,
        )
        links = record.get("associations") or {}
        associations: dict[str, list[dict[str, Any]]] = {}
        for to_type in associated:
            ids = _associated_ids(links, to_type)
            records = await batch_read(ctx, to_type, ids, per_type.get(to_type, [])) if ids else []
            associations[to_type] = [record_data(r) for r in records]
        data = {"object_type": object_type, **record_data(record), "associations": associations}
        return ActionResult(raw=record, data=data)


def _association_properties(value: Any) -> dict[str, list[str]]:
    if value in (None, "", {}):
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError(
            "association_properties must map object types to property lists: "
            '{"contacts": ["email"]}'
        )
    return {check_object_type(k): property_list(v) for k, v in value.items()}


def _associated_ids(links: Mapping[str, Any], to_type: str) -> list[str]:
    # HubSpot keys associations by the type's name as it knows it (custom objects by their
    # fully qualified name), and lists an id once per association label: keep each id once.
    results: list[Any] = []
    for key, value in links.items():
        if key.lower() == to_type or key.lower().endswith(f"_{to_type}"):
            results.extend((value or {}).get("results", []))
    ids: list[str] = []
    for item in results:
        item_id = str(item.get("id") or item.get("toObjectId"))
        if item_id not in ids:
            ids.append(item_id)
    return ids
