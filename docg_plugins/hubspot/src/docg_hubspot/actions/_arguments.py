"""Arguments several actions share."""

from __future__ import annotations

from docg_core.apps import ActionArgument, ArgumentType, DynamicData

OBJECT_TYPE = ActionArgument(
    key="object_type",
    label="Object type",
    type=ArgumentType.DROPDOWN,
    required=True,
    source=DynamicData("object-types"),
    description="deals, contacts, companies, line_items, quotes, or a custom object (2-1234).",
)
OBJECT_ID = ActionArgument(
    key="object_id",
    label="Record id",
    required=True,
    description="The record's id (or the value of `id_property`).",
)
PROPERTIES = ActionArgument(
    key="properties",
    label="Properties",
    type=ArgumentType.DROPDOWN,
    multiple=True,
    source=DynamicData("properties"),
    depends_on="object_type",
    description="Property names to read (a list, or text separated by commas).",
)
ID_PROPERTY = ActionArgument(
    key="id_property",
    label="Id property",
    description="A unique property that `object_id` holds instead of the record id (e.g. email).",
)
