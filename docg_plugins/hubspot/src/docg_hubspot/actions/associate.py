"""Associate two CRM records (associations v4)."""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import quote

from docg_core.apps import ActionArgument, ActionResult, ArgumentType, BaseAction, DropdownOption
from docg_core.context import ExecutionContext

from ..common.client import hubspot_json
from ..common.objects import check_object_type
from ._arguments import OBJECT_TYPE


def association_path(
    from_type: str, from_id: str, to_type: str, to_id: str, *, default: bool
) -> str:
    """``/crm/v4/objects/{from}/{id}/associations[/default]/{to}/{id}``."""
    parts = [quote(str(p), safe="") for p in (from_type, from_id, to_type, to_id)]
    middle = "associations/default" if default else "associations"
    return f"/crm/v4/objects/{parts[0]}/{parts[1]}/{middle}/{parts[2]}/{parts[3]}"


class AssociateRecords(BaseAction):
    """``PUT /crm/v4/objects/{from}/{id}/associations/default/{to}/{id}`` (the default
    association), or with a labelled type ``PUT .../associations/{to}/{id}``. Associating
    twice leaves one association, so a retry is harmless."""

    key = "associate-records"
    name = "Associate records"
    description = (
        "Link two CRM records, e.g. a contact to a deal, with the default or a labelled "
        "association."
    )
    arguments: ClassVar[tuple[ActionArgument, ...]] = (
        OBJECT_TYPE,
        ActionArgument(key="object_id", label="Record id", required=True),
        ActionArgument(
            key="to_object_type",
            label="Associate with type",
            type=ArgumentType.DROPDOWN,
            required=True,
            source=OBJECT_TYPE.source,
        ),
        ActionArgument(key="to_object_id", label="Associate with id", required=True),
        ActionArgument(
            key="association_type_id",
            label="Association type id",
            type=ArgumentType.NUMBER,
            description="A labelled association type; leave empty for the default association.",
        ),
        ActionArgument(
            key="association_category",
            label="Association category",
            type=ArgumentType.DROPDOWN,
            default="HUBSPOT_DEFINED",
            options=(
                DropdownOption("HUBSPOT_DEFINED", "HubSpot defined"),
                DropdownOption("USER_DEFINED", "User defined"),
                DropdownOption("INTEGRATOR_DEFINED", "Integrator defined"),
            ),
        ),
    )

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        params = ctx.step.parameters
        from_type = check_object_type(params["object_type"])
        to_type = check_object_type(params["to_object_type"])
        from_id, to_id = str(params["object_id"]), str(params["to_object_id"])
        type_id = params.get("association_type_id")
        what = f"the association of {from_type} {from_id} with {to_type} {to_id}"
        raw: Any
        if type_id is None:
            raw = await hubspot_json(
                ctx,
                "PUT",
                association_path(from_type, from_id, to_type, to_id, default=True),
                what=what,
            )
            specs = [
                {
                    "category": r["associationSpec"]["associationCategory"],
                    "type_id": r["associationSpec"]["associationTypeId"],
                }
                for r in (raw or {}).get("results", [])
                if str((r.get("to") or {}).get("id")) == to_id
            ]
        else:
            spec = {
                "associationCategory": params.get("association_category") or "HUBSPOT_DEFINED",
                "associationTypeId": int(type_id),
            }
            raw = await hubspot_json(
                ctx,
                "PUT",
                association_path(from_type, from_id, to_type, to_id, default=False),
                what=what,
                json=[spec],
            )
            specs = [
                {"category": spec["associationCategory"], "type_id": spec["associationTypeId"]}
            ]
        data = {
            "from_object_type": from_type,
            "from_id": from_id,
            "to_object_type": to_type,
            "to_id": to_id,
            "association_types": specs,
        }
        return ActionResult(raw=raw, data=data)
