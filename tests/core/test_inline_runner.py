"""The inline runner: starts return at once, the run goes on as a task; resume, cancel, wait."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from support.apps import RUNS, flow

from docg_core.apps import ActionResult, BaseAction, BaseApp
from docg_core.context import ExecutionContext
from docg_core.engine import Engine
from docg_core.errors import ExecutionError, ValidationError
from docg_core.plugins import get_registry
from docg_core.runners import Runner
from docg_core.runners.inline import InlineRunner


class Gate(BaseAction):
    """Blocks until the test opens ``GATE``."""

    key = "gate"
    name = "Gate"

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        await GATE.wait()
        return ActionResult(data={"passed": True})


class Crash(BaseAction):
    key = "crash"
    name = "Crash"

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        return "not a result"  # type: ignore[return-value]


class GateApp(BaseApp):
    key = "g"
    name = "Gate"
    actions = (Gate, Crash)


class GatePlugin:
    from docg_core.hookspecs import hookimpl

    @hookimpl
    def docg_apps(self) -> list[type[BaseApp]]:
        return [GateApp]


GATE = asyncio.Event()


@pytest.fixture
def runner(engine: Engine) -> InlineRunner:
    global GATE
    GATE = asyncio.Event()
    from support.apps import TestPlugin

    engine.registry = get_registry(extra=[TestPlugin(), GatePlugin()])
    return InlineRunner(engine, grace_period=5)


def gate(node_id: str = "gate") -> dict[str, Any]:
    return {"id": node_id, "app": "g", "action": "gate"}


def approval(node_id: str = "ok") -> dict[str, Any]:
    return {
        "id": node_id,
        "app": "approval",
        "action": "request-approval",
        "parameters": {"title": "Contract"},
    }


def echo(node_id: str) -> Mapping[str, Any]:
    return {"id": node_id, "app": "t", "action": "echo", "parameters": {"value": node_id}}


def test_it_is_a_runner(runner: InlineRunner) -> None:
    assert isinstance(runner, Runner)


async def test_start_returns_while_the_execution_runs_and_wait_sees_it_finish(
    runner: InlineRunner,
) -> None:
    started = await runner.start(flow(gate(), echo("after")), {"x": 1})
    assert started.status == "running"
    assert (await runner.engine.store.get_execution(started.id)).status == "running"
    assert runner.in_flight == 1
    unfinished = await runner.wait(started.id, timeout=0.05)
    assert unfinished.status == "running"
    GATE.set()
    finished = await runner.wait(started.id, timeout=5)
    assert finished.status == "completed"
    assert [s.node_id for s in finished.steps] == ["gate", "after"]
    assert runner.in_flight == 0


async def test_an_invalid_workflow_is_refused_before_anything_starts(
    runner: InlineRunner,
) -> None:
    with pytest.raises(ValidationError):
        await runner.start(flow({"id": "x", "app": "nope", "action": "nope"}), {})
    assert await runner.engine.store.list_executions() == []


async def test_starting_an_existing_execution_id_again_starts_nothing(
    runner: InlineRunner,
) -> None:
    RUNS.clear()
    first = await runner.start(flow(echo("a")), {}, execution_id="e-1")
    await runner.wait(first.id, timeout=5)
    again = await runner.start(flow(echo("a")), {}, execution_id="e-1")
    assert again.id == "e-1" and again.status == "completed"
    await runner.wait("e-1", timeout=5)
    assert RUNS["a"] == 1


async def test_resume_claims_at_once_then_runs_on_and_a_second_resume_is_refused(
    runner: InlineRunner,
) -> None:
    started = await runner.start(flow(approval(), echo("after")), {})
    waiting = await runner.wait(started.id, timeout=5)
    assert waiting.status == "waiting"
    claimed = await runner.resume(started.id, "ok", {"decision": "approved"})
    assert claimed.status == "running"
    with pytest.raises(ExecutionError, match=r"already resumed|not waiting"):
        await runner.resume(started.id, "ok", {"decision": "approved"})
    done = await runner.wait(started.id, timeout=5)
    assert done.status == "completed"
    assert done.step("ok").data_out["data"]["decision"] == "approved"


async def test_cancel_stops_a_running_execution(runner: InlineRunner) -> None:
    started = await runner.start(flow(gate(), echo("after")), {})
    await asyncio.sleep(0)
    cancelled = await runner.cancel(started.id)
    assert cancelled.status == "cancelled"
    final = await runner.wait(started.id, timeout=5)
    assert final.status == "cancelled"
    assert final.step("after") is None


async def test_a_failure_in_the_background_is_recorded_on_the_execution(
    runner: InlineRunner,
) -> None:
    started = await runner.start(flow({"id": "c", "app": "g", "action": "crash"}), {})
    final = await runner.wait(started.id, timeout=5)
    assert final.status == "failed"
    assert "not an ActionResult" in (final.error or "")


async def test_tick_resumes_waits_whose_time_has_come(runner: InlineRunner) -> None:
    node = {
        **approval(),
        "parameters": {"title": "T", "timeout_hours": 1, "on_timeout": "approved"},
    }
    started = await runner.start(flow(node, echo("after")), {})
    await runner.wait(started.id, timeout=5)
    resumed = await runner.tick(datetime.now(UTC) + timedelta(hours=2))
    assert [e.id for e in resumed] == [started.id]
    final = await runner.wait(started.id, timeout=5)
    assert final.status == "completed"
    assert final.step("ok").data_out["data"]["decision"] == "approved"


async def test_aclose_lets_in_flight_work_finish(runner: InlineRunner) -> None:
    started = await runner.start(flow(gate()), {})
    asyncio.get_running_loop().call_later(0.05, GATE.set)
    await runner.aclose()
    assert (await runner.engine.store.get_execution(started.id)).status == "completed"


async def test_aclose_cancels_what_outlives_the_grace_period(engine: Engine) -> None:
    global GATE
    GATE = asyncio.Event()
    from support.apps import TestPlugin

    engine.registry = get_registry(extra=[TestPlugin(), GatePlugin()])
    runner = InlineRunner(engine, grace_period=0.05)
    started = await runner.start(flow(gate()), {})
    await runner.aclose()
    assert (await engine.store.get_execution(started.id)).status == "cancelled"
