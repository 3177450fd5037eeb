"""The ``doc_token`` argument shared by the actions on an existing document."""

from __future__ import annotations

from docg_core.apps import ActionArgument

DOC_TOKEN = ActionArgument(
    key="doc_token",
    label="Document token",
    required=True,
    description="The ZapSign document, e.g. {{step.sign.doc_token}}.",
)
