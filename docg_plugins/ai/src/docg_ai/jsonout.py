"""Checking a JSON answer: it parses, and matches the requested JSON Schema."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from docg_core.errors import StepError

__all__ = ["check_schema", "parse_json_answer"]

# Compatible servers sometimes wrap JSON in a Markdown code fence.
_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(.*)\n\s*```\s*$", re.DOTALL)


def check_schema(schema: Any) -> Mapping[str, Any]:
    """``schema`` if it is a valid JSON Schema object; a step error naming the problem."""
    from jsonschema import SchemaError, validators

    if not isinstance(schema, Mapping):
        raise StepError(
            f"json_schema: expected a JSON Schema object, got {type(schema).__name__}",
            code="invalid",
        )
    try:
        validators.validator_for(schema).check_schema(dict(schema))
    except SchemaError as exc:
        raise StepError(
            f"json_schema: not a valid JSON Schema: {exc.message}", code="invalid"
        ) from None
    return schema


def parse_json_answer(
    text: str, schema: Mapping[str, Any] | None, *, truncated: bool, model: str
) -> Any:
    """The parsed answer; a step error when it is not JSON or does not match ``schema``."""
    from jsonschema import validators

    fenced = _FENCE.match(text)
    try:
        value = json.loads(fenced.group(1) if fenced else text)
    except json.JSONDecodeError as exc:
        hint = " (the answer was cut off at max_tokens; raise max_tokens)" if truncated else ""
        excerpt = text if len(text) <= 200 else text[:200] + "…"
        raise StepError(
            f"The model {model} did not answer with valid JSON{hint}: {exc.msg} at line "
            f"{exc.lineno} column {exc.colno}; the answer began {excerpt!r}",
            code="invalid-json",
        ) from None
    if schema is not None:
        validator = validators.validator_for(schema)(schema)
        errors = sorted(validator.iter_errors(value), key=lambda err: list(err.absolute_path))
        if errors:
            first = errors[0]
            where = "/".join(str(p) for p in first.absolute_path) or "the top level"
            raise StepError(
                f"The model {model}'s JSON answer does not match json_schema at {where}: "
                f"{first.message}",
                code="schema-mismatch",
            )
    return value
