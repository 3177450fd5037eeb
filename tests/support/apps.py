"""Apps, a plugin and helpers shared by the engine tests."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import httpx

from docg_core import hookimpl
from docg_core.apps import (
    ActionArgument,
    ActionResult,
    ArgumentType,
    AuthSpec,
    BaseAction,
    BaseApp,
    BaseTrigger,
    TriggerItem,
    TriggerType,
)
from docg_core.context import ExecutionContext
from docg_core.errors import RetryableError, StepError
from docg_core.retry import RetryPolicy
from docg_core.workflow import Workflow

RUNS: Counter[str] = Counter()


class Echo(BaseAction):
    key = "echo"
    name = "Echo"
    arguments = (
        ActionArgument(key="value", label="Value", type=ArgumentType.HIDDEN),
        ActionArgument(key="count", label="Count", type=ArgumentType.NUMBER),
        ActionArgument(key="flag", label="Flag", type=ArgumentType.BOOLEAN),
        ActionArgument(key="token", label="Token", secret=True),
    )

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        RUNS[ctx.step.key] += 1
        return ActionResult(raw={"echo": dict(ctx.step.parameters)}, data=dict(ctx.step.parameters))


class Flaky(BaseAction):
    """Fails ``failures`` times with a retryable error, then succeeds."""

    key = "flaky"
    name = "Flaky"
    retry = RetryPolicy(attempts=3, backoff=0.5, multiplier=2)
    arguments = (
        ActionArgument(key="failures", label="Failures", type=ArgumentType.NUMBER, required=True),
        ActionArgument(key="retry_after", label="Retry after", type=ArgumentType.NUMBER),
    )

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        RUNS[ctx.step.idempotency_key] += 1
        if ctx.step.attempt <= ctx.step.parameters["failures"]:
            raise RetryableError(
                "temporarily down", retry_after=ctx.step.parameters.get("retry_after")
            )
        return ActionResult(data={"attempt": ctx.step.attempt})


class Boom(BaseAction):
    key = "boom"
    name = "Boom"
    arguments = (ActionArgument(key="message", label="Message", default="it broke"),)

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        raise StepError(ctx.step.parameters["message"], code="boom")


class Fetch(BaseAction):
    key = "fetch"
    name = "Fetch"
    arguments = (ActionArgument(key="path", label="Path", required=True),)

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        r = await ctx.http.get(ctx.step.parameters["path"])
        r.raise_for_status()
        return ActionResult(raw=r.json(), data=r.json())


class Remember(BaseAction):
    """Counts its runs per flow in the datastore."""

    key = "remember"
    name = "Remember"

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        seen = await ctx.datastore.get("seen", 0) + 1
        await ctx.datastore.set("seen", seen)
        return ActionResult(data={"seen": seen})


class Items(BaseTrigger):
    key = "items"
    name = "New items"
    trigger_type = TriggerType.POLLING
    found: ClassVar[list[dict[str, Any]]] = []

    async def poll(self, ctx: ExecutionContext) -> list[TriggerItem]:
        return [TriggerItem(str(i["id"]), i) for i in self.found]


class TestApp(BaseApp):
    key = "t"
    name = "Test app"
    base_url = "https://api.example.test/v1/"
    auth = AuthSpec.api_key()
    actions = (Echo, Flaky, Boom, Fetch, Remember)
    triggers = (Items,)

    async def before_request(self, ctx: ExecutionContext, request: httpx.Request) -> None:
        request.headers["Authorization"] = f"Bearer {ctx.auth.get('api_key', '')}"


class TestPlugin:
    @hookimpl
    def docg_apps(self) -> Sequence[type[BaseApp]]:
        return [TestApp]


class Sleeps(list[float]):
    """Records the engine's retry sleeps instead of sleeping."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def flow(*nodes: Mapping[str, Any], **extra: Any) -> Workflow:
    return Workflow.model_validate({"name": "test flow", "nodes": list(nodes), **extra})
