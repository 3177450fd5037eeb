"""JSON Schemas as the vendors accept them: an object at the top level."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Structured output and tool inputs must be objects; any other schema is wrapped as the
# single property "value" of one, and unwrapped from the answer.
WRAPPED_KEY = "value"


def object_schema(schema: Mapping[str, Any] | None) -> tuple[dict[str, Any], bool]:
    """``(schema to send, wrapped)``: ``schema`` itself when it describes an object,
    else an object whose one required property ``value`` is ``schema``."""
    if schema is None:
        return {"type": "object"}, False
    if schema.get("type") == "object":
        return dict(schema), False
    return {
        "type": "object",
        "properties": {WRAPPED_KEY: dict(schema)},
        "required": [WRAPPED_KEY],
        "additionalProperties": False,
    }, True


def unwrap(value: Any, wrapped: bool) -> Any:
    """The answer without the wrapper added by :func:`object_schema`."""
    if wrapped and isinstance(value, dict) and WRAPPED_KEY in value:
        return value[WRAPPED_KEY]
    return value
