"""The ``manual`` and ``webhook`` apps: triggers whose payload is the trigger output."""

from __future__ import annotations

from collections.abc import Mapping

from ..apps import ActionResult, BaseApp, BaseTrigger, TriggerType
from ..context import ExecutionContext
from ..errors import StepError


def _as_object(payload: object, what: str) -> dict[str, object]:
    if payload is None:
        return {}
    if not isinstance(payload, Mapping):
        raise StepError(f"{what} data must be a JSON object, got {type(payload).__name__}")
    return dict(payload)


class ManualTrigger(BaseTrigger):
    key = "manual"
    name = "Run manually"
    description = "Started by hand (CLI, API or embedding code) with an optional JSON object."
    trigger_type = TriggerType.MANUAL

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        data = _as_object(ctx.trigger_output, "manual trigger")
        return ActionResult(raw=data, data=data)


class ManualApp(BaseApp):
    key = "manual"
    name = "Manual"
    description = "Start a workflow by hand."
    triggers = (ManualTrigger,)


class CatchHook(BaseTrigger):
    key = "catch-hook"
    name = "Catch webhook"
    description = (
        "Started by a POST to the workflow's webhook URL; the JSON body is the trigger output."
    )
    trigger_type = TriggerType.WEBHOOK

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        data = _as_object(ctx.trigger_output, "webhook")
        return ActionResult(raw=data, data=data)


class WebhookApp(BaseApp):
    key = "webhook"
    name = "Webhook"
    description = "Start a workflow from an HTTP request."
    triggers = (CatchHook,)
