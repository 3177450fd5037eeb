"""The ``stop`` app: end the execution as completed."""

from __future__ import annotations

from ..apps import ActionArgument, ActionResult, BaseAction, BaseApp
from ..context import ExecutionContext


class StopAction(BaseAction):
    key = "stop"
    name = "Stop"
    description = "End the execution here, as completed. Nodes after it do not run."
    arguments = (
        ActionArgument(key="reason", label="Reason", description="Recorded in the output."),
    )

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        return ActionResult.end({"stopped": True, "reason": ctx.step.parameters.get("reason")})


class StopApp(BaseApp):
    key = "stop"
    name = "Stop"
    description = "End an execution early."
    actions = (StopAction,)
