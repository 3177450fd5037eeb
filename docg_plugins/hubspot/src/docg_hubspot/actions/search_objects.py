"""Search CRM records with filters, sorting and paging."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from docg_core.apps import ActionArgument, ActionResult, ArgumentType, BaseAction
from docg_core.context import ExecutionContext
from docg_core.errors import ValidationError

from ..common.objects import check_object_type, property_list, record_data, search_pages
from ._arguments import OBJECT_TYPE, PROPERTIES

OPERATORS = frozenset(
    {
        "EQ",
        "NEQ",
        "LT",
        "LTE",
        "GT",
        "GTE",
        "BETWEEN",
        "IN",
        "NOT_IN",
        "HAS_PROPERTY",
        "NOT_HAS_PROPERTY",
        "CONTAINS_TOKEN",
        "NOT_CONTAINS_TOKEN",
    }
)
MAX_RESULTS = 10_000  # HubSpot's search answers at most 10,000 results per query


class SearchObjects(BaseAction):
    """``POST /crm/v3/objects/{type}/search``, following ``paging.next.after`` up to ``limit``."""

    key = "search-objects"
    name = "Search records"
    description = (
        "Find CRM records matching filters (all filters of a group must match; any group "
        "may), sorted, up to a limit."
    )
    arguments: ClassVar[tuple[ActionArgument, ...]] = (
        OBJECT_TYPE,
        ActionArgument(
            key="filters",
            label="Filters",
            type=ArgumentType.JSON,
            description='A list of filters, all required: [{"propertyName": "dealstage", '
            '"operator": "EQ", "value": "closedwon"}]; or a list of such lists, any of which '
            "may match.",
        ),
        ActionArgument(
            key="query",
            label="Text",
            description="Free text searched in the record's default text properties.",
        ),
        ActionArgument(
            key="sorts",
            label="Sort by",
            type=ArgumentType.STRING,
            multiple=True,
            description="Property names to sort by, in order; `-name` sorts descending.",
        ),
        PROPERTIES,
        ActionArgument(
            key="limit",
            label="Limit",
            type=ArgumentType.NUMBER,
            default=100,
            description="The most records to return (up to 10,000).",
        ),
    )

    @classmethod
    def check_parameters(cls, parameters: Mapping[str, Any]) -> list[str]:
        filters = parameters.get("filters")
        if filters in (None, "") or (isinstance(filters, str) and "{{" in filters):
            return []
        try:
            filter_groups(filters)
        except ValidationError as exc:
            return [f"filters: {exc}"]
        return []

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        params = ctx.step.parameters
        object_type = check_object_type(params["object_type"])
        limit = int(params.get("limit") or 100)
        if not 1 <= limit <= MAX_RESULTS:
            raise ValidationError(f"limit must be between 1 and {MAX_RESULTS}, got {limit}")
        body: dict[str, Any] = {"filterGroups": filter_groups(params.get("filters"))}
        if params.get("query"):
            body["query"] = params["query"]
        sorts = _sorts(params.get("sorts"))
        if sorts:
            body["sorts"] = sorts
        properties = property_list(params.get("properties"))
        if properties:
            body["properties"] = properties
        records, total, after = await search_pages(ctx, object_type, body, limit)
        results = [record_data(r) for r in records]
        data = {
            "object_type": object_type,
            "results": results,
            "count": len(results),
            "total": total if total is not None else len(results),
            "next_after": after,
        }
        return ActionResult(raw={"results": records, "total": total}, data=data)


def filter_groups(value: Any) -> list[dict[str, Any]]:
    """HubSpot ``filterGroups`` from a list of filters (one group), a list of lists (groups)
    or ``{"filterGroups": [...]}``; ``ValidationError`` naming a bad filter."""
    if value in (None, "", [], {}):
        return []
    if isinstance(value, Mapping):
        groups = value.get("filterGroups")
        if not isinstance(groups, list):
            raise ValidationError("filters must be a list, or an object with filterGroups")
        raw_groups = [g.get("filters", []) if isinstance(g, Mapping) else g for g in groups]
    elif isinstance(value, list) and all(isinstance(v, list) for v in value):
        raw_groups = value
    elif isinstance(value, list):
        raw_groups = [value]
    else:
        raise ValidationError("filters must be a list of {propertyName, operator, value}")
    groups_out = []
    for group in raw_groups:
        filters = []
        for item in group:
            if not isinstance(item, Mapping) or not item.get("propertyName"):
                raise ValidationError(f"each filter needs a propertyName: {item!r}")
            operator = str(item.get("operator", "EQ")).upper()
            if operator not in OPERATORS:
                raise ValidationError(
                    f"unknown filter operator {operator!r} "
                    f"(use one of {', '.join(sorted(OPERATORS))})"
                )
            filters.append({**item, "operator": operator})
        groups_out.append({"filters": filters})
    return groups_out


def _sorts(value: Any) -> list[dict[str, str]]:
    sorts = []
    for name in property_list(value):
        descending = name.startswith("-")
        sorts.append(
            {
                "propertyName": name.lstrip("-"),
                "direction": "DESCENDING" if descending else "ASCENDING",
            }
        )
    return sorts
