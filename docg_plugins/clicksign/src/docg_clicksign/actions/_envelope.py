"""The ``envelope_id`` argument shared by the actions that act on an existing envelope."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from docg_core.apps import ActionArgument
from docg_core.errors import StepError

ENVELOPE_ID = ActionArgument(
    key="envelope_id",
    label="Envelope",
    required=True,
    description="The ClickSign envelope id, e.g. {{step.sign.envelope_id}}.",
)


def envelope_id(params: Mapping[str, Any]) -> str:
    """The envelope id argument, trimmed; a step error when it has a path separator."""
    value = str(params.get("envelope_id") or "").strip()
    if not value or "/" in value or "?" in value or "#" in value:
        raise StepError(f"envelope_id: {value!r} is not a ClickSign envelope id")
    return value
