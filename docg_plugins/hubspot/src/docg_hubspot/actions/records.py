"""Create and update CRM records, and move a deal to another stage."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from docg_core.apps import ActionArgument, ActionResult, ArgumentType, BaseAction, DynamicData
from docg_core.context import ExecutionContext
from docg_core.errors import ValidationError

from ..common.client import hubspot_json
from ..common.idempotency import recall, remember
from ..common.objects import check_object_type, object_path, record_data
from ._arguments import ID_PROPERTY, OBJECT_ID, OBJECT_TYPE

PROPERTY_VALUES = ActionArgument(
    key="properties",
    label="Properties",
    type=ArgumentType.JSON,
    required=True,
    description='Property values by name: {"dealname": "Acme renewal", "amount": 1200}.',
)


def property_values(value: Any) -> dict[str, Any]:
    """Property values as HubSpot takes them (text; booleans as ``true``/``false``)."""
    if not isinstance(value, Mapping) or not value:
        raise ValidationError('properties must be an object of values: {"dealname": "Acme"}')
    out: dict[str, Any] = {}
    for name, item in value.items():
        if isinstance(item, bool):
            out[str(name)] = "true" if item else "false"
        elif item is None or isinstance(item, str | int | float):
            out[str(name)] = item
        else:
            raise ValidationError(f"property {name!r} must be text, a number or a boolean")
    return out


def association_inputs(value: Any) -> list[dict[str, Any]]:
    """``associations`` of a create request from ``[{"to_id", "type_id", "category"}]``."""
    if value in (None, "", []):
        return []
    if not isinstance(value, list):
        raise ValidationError("associations must be a list of {to_id, type_id}")
    inputs = []
    for item in value:
        if not isinstance(item, Mapping) or not item.get("to_id") or not item.get("type_id"):
            raise ValidationError(f"each association needs to_id and type_id: {item!r}")
        inputs.append(
            {
                "to": {"id": str(item["to_id"])},
                "types": [
                    {
                        "associationCategory": str(item.get("category", "HUBSPOT_DEFINED")),
                        "associationTypeId": int(item["type_id"]),
                    }
                ],
            }
        )
    return inputs


class CreateRecord(BaseAction):
    """``POST /crm/v3/objects/{type}``; a retried step returns the record it created."""

    key = "create-record"
    name = "Create record"
    description = (
        "Create a CRM record (deal, contact, company, ...) with properties and associations."
    )
    arguments: ClassVar[tuple[ActionArgument, ...]] = (
        OBJECT_TYPE,
        PROPERTY_VALUES,
        ActionArgument(
            key="associations",
            label="Associations",
            type=ArgumentType.JSON,
            description='Records to associate it with: [{"to_id": "123", "type_id": 3, '
            '"category": "HUBSPOT_DEFINED"}] (type ids are in HubSpot\'s associations docs).',
        ),
    )

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        params = ctx.step.parameters
        done = await recall(ctx, "created")
        if done is not None:
            return ActionResult(raw=done, data=record_data(done), metadata={"reused": True})
        object_type = check_object_type(params["object_type"])
        body = {
            "properties": property_values(params["properties"]),
            "associations": association_inputs(params.get("associations")),
        }
        record = await hubspot_json(
            ctx, "POST", object_path(object_type), what=f"a new {object_type} record", json=body
        )
        await remember(ctx, "created", record)
        return ActionResult(raw=record, data=record_data(record))


class UpdateRecord(BaseAction):
    """``PATCH /crm/v3/objects/{type}/{id}``: setting the same values twice is harmless."""

    key = "update-record"
    name = "Update record"
    description = "Set property values on an existing CRM record."
    arguments: ClassVar[tuple[ActionArgument, ...]] = (
        OBJECT_TYPE,
        OBJECT_ID,
        PROPERTY_VALUES,
        ID_PROPERTY,
    )

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        params = ctx.step.parameters
        object_type = check_object_type(params["object_type"])
        query = {"idProperty": params["id_property"]} if params.get("id_property") else None
        record = await hubspot_json(
            ctx,
            "PATCH",
            object_path(object_type, params["object_id"]),
            what=f"{object_type} record {params['object_id']}",
            json={"properties": property_values(params["properties"])},
            params=query,
        )
        return ActionResult(raw=record, data=record_data(record))


class UpdateDealStage(BaseAction):
    """``PATCH /crm/v3/objects/deals/{id}`` with ``dealstage`` (and ``pipeline``)."""

    key = "update-deal-stage"
    name = "Update deal stage"
    description = "Move a deal to another stage (optionally of another pipeline)."
    arguments: ClassVar[tuple[ActionArgument, ...]] = (
        ActionArgument(key="deal_id", label="Deal id", required=True),
        ActionArgument(
            key="pipeline",
            label="Pipeline",
            type=ArgumentType.DROPDOWN,
            source=DynamicData("pipelines"),
            description="The pipeline's id; leave empty to keep the deal's pipeline.",
        ),
        ActionArgument(
            key="stage",
            label="Stage",
            type=ArgumentType.DROPDOWN,
            required=True,
            source=DynamicData("pipeline-stages"),
            depends_on="pipeline",
            description="The stage's id (e.g. closedwon).",
        ),
    )

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        params = ctx.step.parameters
        properties = {"dealstage": str(params["stage"])}
        if params.get("pipeline"):
            properties["pipeline"] = str(params["pipeline"])
        record = await hubspot_json(
            ctx,
            "PATCH",
            object_path("deals", params["deal_id"]),
            what=f"deal {params['deal_id']}",
            json={"properties": properties},
        )
        data = record_data(record)
        data["stage"] = data["properties"].get("dealstage")
        data["pipeline"] = data["properties"].get("pipeline")
        return ActionResult(raw=record, data=data)
