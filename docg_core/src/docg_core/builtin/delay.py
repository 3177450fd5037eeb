"""The ``delay`` app: wait for a while, or until a time."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ..apps import ActionArgument, ActionResult, ArgumentType, BaseAction, BaseApp, DropdownOption
from ..context import ExecutionContext
from ..errors import StepError

# Shorter waits sleep in the process; longer ones pause the execution and are resumed by
# `Engine.resume_due()` (`docg resume-due`), so no worker is held for hours.
INLINE_SLEEP_LIMIT = 5.0
UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


class WaitAction(BaseAction):
    key = "wait"
    name = "Delay"
    description = "Wait `amount` `unit`s, or until the date-time `until`."
    can_wait = True
    arguments = (
        ActionArgument(key="until", label="Until", type=ArgumentType.DATETIME),
        ActionArgument(key="amount", label="Amount", type=ArgumentType.NUMBER),
        ActionArgument(
            key="unit",
            label="Unit",
            type=ArgumentType.DROPDOWN,
            default="minutes",
            options=tuple(DropdownOption(u) for u in UNITS),
        ),
    )

    @classmethod
    def check_parameters(cls, parameters: Mapping[str, Any]) -> list[str]:
        if parameters.get("until") in (None, "") and parameters.get("amount") in (None, ""):
            return ["until: give either 'until' or 'amount'"]
        return []

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        p = ctx.step.parameters
        now = datetime.now(UTC)
        if p.get("until"):
            target = datetime.fromisoformat(p["until"])
            if target.tzinfo is None:
                target = target.replace(tzinfo=UTC)
        elif p.get("amount") is not None:
            if p["amount"] < 0:
                raise StepError("amount must not be negative")
            target = now + timedelta(seconds=p["amount"] * UNITS[p.get("unit") or "minutes"])
        else:
            raise StepError("give either 'until' or 'amount'")
        remaining = (target - now).total_seconds()
        if remaining > INLINE_SLEEP_LIMIT:
            return ActionResult.wait("delay", resume_at=target, data={"until": target.isoformat()})
        if remaining > 0:
            await asyncio.sleep(remaining)
        return ActionResult(data={"waited_until": target.isoformat()})

    async def resume(self, ctx: ExecutionContext, payload: Mapping[str, Any]) -> ActionResult:
        return ActionResult(data={"waited_until": datetime.now(UTC).isoformat()})


class DelayApp(BaseApp):
    key = "delay"
    name = "Delay"
    description = "Pause a workflow for a while."
    actions = (WaitAction,)
