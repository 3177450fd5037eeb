"""Apps for the Temporal tests: a document writer, a slow step, a step that fails twice and
one that asks to be retried later (``Retry-After``)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import Sequence

from docg_core import hookimpl
from docg_core.apps import ActionArgument, ActionResult, ArgumentType, BaseAction, BaseApp
from docg_core.context import ExecutionContext
from docg_core.errors import RetryableError
from docg_core.retry import RetryPolicy

RUNS: Counter[str] = Counter()


class WriteDocument(BaseAction):
    """Writes a small file to storage under the step's idempotency key, after ``seconds``."""

    key = "write-document"
    name = "Write document"
    retry = RetryPolicy(attempts=2, backoff=0.1)
    arguments = (
        ActionArgument(key="text", label="Text", required=True),
        ActionArgument(key="seconds", label="Seconds", type=ArgumentType.NUMBER),
    )

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        RUNS[ctx.step.idempotency_key] += 1
        await asyncio.sleep(float(ctx.step.parameters.get("seconds") or 0))
        assert ctx.storage is not None
        key = "documents/" + ctx.step.idempotency_key.replace(":", "-") + ".txt"
        await ctx.storage.put(key, str(ctx.step.parameters["text"]).encode())
        return ActionResult(data={"key": key})


class FailTwice(BaseAction):
    """Fails twice with a retryable error, then succeeds."""

    key = "fail-twice"
    name = "Fail twice"
    retry = RetryPolicy(attempts=3, backoff=0.2, multiplier=2)

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        RUNS[ctx.step.idempotency_key] += 1
        if ctx.step.attempt <= 2:
            raise RetryableError("temporarily down")
        return ActionResult(data={"attempt": ctx.step.attempt})


ATTEMPT_TIMES: defaultdict[str, list[float]] = defaultdict(list)


class RetryAfter(BaseAction):
    """Fails once with ``Retry-After: 1.5`` (a short backoff otherwise), then succeeds."""

    key = "retry-after"
    name = "Retry after"
    retry = RetryPolicy(attempts=3, backoff=0.05)

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        ATTEMPT_TIMES[ctx.step.idempotency_key].append(time.monotonic())
        if ctx.step.attempt == 1:
            raise RetryableError("rate limited", retry_after=1.5)
        return ActionResult(data={"attempt": ctx.step.attempt})


class Big(BaseAction):
    """Returns ``kib`` KiB of text."""

    key = "big"
    name = "Big output"
    arguments = (ActionArgument(key="kib", label="KiB", type=ArgumentType.NUMBER, required=True),)

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        return ActionResult(data={"text": "x" * int(ctx.step.parameters["kib"] * 1024)})


class TemporalTestApp(BaseApp):
    key = "tt"
    name = "Temporal test app"
    actions = (WriteDocument, FailTwice, RetryAfter, Big)


class TemporalTestPlugin:
    @hookimpl
    def docg_apps(self) -> Sequence[type[BaseApp]]:
        return [TemporalTestApp]
