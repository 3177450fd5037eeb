"""Object types, properties, pipelines and their stages, owners."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from docg_core.apps import BaseDynamicData, DropdownOption
from docg_core.context import ExecutionContext

from ..common.client import hubspot_json
from ..common.objects import STANDARD_OBJECT_TYPES, check_object_type

MAX_PAGES = 50  # owners: 100 per page; more than 5,000 owners is not a dropdown any more


def _object_type(ctx: ExecutionContext) -> str:
    return check_object_type(ctx.step.parameters.get("object_type") or "deals")


class ObjectTypes(BaseDynamicData):
    """Standard object types, then the account's custom objects (``GET /crm/v3/schemas``)."""

    key = "object-types"
    name = "Object types"
    description = "Standard CRM object types and the account's custom objects."

    async def run(self, ctx: ExecutionContext) -> list[DropdownOption]:
        options = [DropdownOption(k, v) for k, v in STANDARD_OBJECT_TYPES.items() if k != "notes"]
        answer = await hubspot_json(ctx, "GET", "/crm/v3/schemas", what="custom object schemas")
        for schema in (answer or {}).get("results", []):
            labels = schema.get("labels") or {}
            label = labels.get("plural") or labels.get("singular") or schema.get("name")
            options.append(DropdownOption(str(schema["objectTypeId"]), str(label)))
        return options


class Properties(BaseDynamicData):
    """``GET /crm/v3/properties/{object_type}``, hidden properties left out."""

    key = "properties"
    name = "Properties"
    description = "The properties of an object type."

    async def run(self, ctx: ExecutionContext) -> list[DropdownOption]:
        object_type = _object_type(ctx)
        answer = await hubspot_json(
            ctx,
            "GET",
            f"/crm/v3/properties/{quote(object_type, safe='')}",
            what=f"the properties of {object_type}",
        )
        return [
            DropdownOption(p["name"], p.get("label") or p["name"])
            for p in (answer or {}).get("results", [])
            if not p.get("hidden")
        ]


async def _pipelines(ctx: ExecutionContext) -> list[dict[str, Any]]:
    object_type = _object_type(ctx)
    answer = await hubspot_json(
        ctx,
        "GET",
        f"/crm/v3/pipelines/{quote(object_type, safe='')}",
        what=f"the pipelines of {object_type}",
    )
    pipelines: list[dict[str, Any]] = sorted(
        (answer or {}).get("results", []), key=lambda p: p.get("displayOrder", 0)
    )
    return pipelines


class Pipelines(BaseDynamicData):
    """``GET /crm/v3/pipelines/{object_type}``."""

    key = "pipelines"
    name = "Pipelines"
    description = "The pipelines of deals (or of tickets, with object_type)."

    async def run(self, ctx: ExecutionContext) -> list[DropdownOption]:
        return [DropdownOption(str(p["id"]), p.get("label")) for p in await _pipelines(ctx)]


class PipelineStages(BaseDynamicData):
    """The stages of the chosen ``pipeline``, or of every pipeline (labelled with it)."""

    key = "pipeline-stages"
    name = "Pipeline stages"
    description = "The stages of a pipeline."

    async def run(self, ctx: ExecutionContext) -> list[DropdownOption]:
        chosen = ctx.step.parameters.get("pipeline")
        options = []
        for pipeline in await _pipelines(ctx):
            if chosen and str(pipeline["id"]) != str(chosen):
                continue
            stages = sorted(pipeline.get("stages", []), key=lambda s: s.get("displayOrder", 0))
            for stage in stages:
                label = stage.get("label") or stage["id"]
                if not chosen:
                    label = f"{pipeline.get('label')}: {label}"
                options.append(DropdownOption(str(stage["id"]), label))
        return options


class Owners(BaseDynamicData):
    """``GET /crm/v3/owners``, every page."""

    key = "owners"
    name = "Owners"
    description = "The account's record owners (users)."

    async def run(self, ctx: ExecutionContext) -> list[DropdownOption]:
        options: list[DropdownOption] = []
        after: str | None = None
        for _ in range(MAX_PAGES):
            query = {"limit": "100", "archived": "false"}
            if after:
                query["after"] = after
            answer = await hubspot_json(ctx, "GET", "/crm/v3/owners", what="owners", params=query)
            for owner in (answer or {}).get("results", []):
                name = " ".join(x for x in (owner.get("firstName"), owner.get("lastName")) if x)
                email = owner.get("email")
                label = f"{name} <{email}>" if name and email else name or email or str(owner["id"])
                options.append(DropdownOption(str(owner["id"]), label))
            after = (((answer or {}).get("paging") or {}).get("next") or {}).get("after")
            if not after:
                break
        return options
