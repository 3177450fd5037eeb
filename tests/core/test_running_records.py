"""When a step's ``running`` record reaches the store (``Engine(running_record_delay=...)``):
a quick step is written once, with its outcome; a slow one shows as running meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from support.apps import Sleeps, TestPlugin, flow

from docg_core import hookimpl
from docg_core.apps import ActionArgument, ActionResult, BaseAction, BaseApp
from docg_core.context import ExecutionContext
from docg_core.engine import Engine
from docg_core.plugins import Registry, get_registry
from docg_core.records import ExecutionRecord, StepRecord
from docg_core.store import InMemoryStore

GATES: dict[str, asyncio.Event] = {}


class Hold(BaseAction):
    key = "hold"
    name = "Hold"
    arguments = (ActionArgument(key="gate", label="Gate"),)

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        await GATES[ctx.step.parameters["gate"]].wait()
        return ActionResult(data={"held": True})


class HoldApp(BaseApp):
    key = "hold"
    name = "Hold"
    actions = (Hold,)


class HoldPlugin:
    @hookimpl
    def docg_apps(self) -> Sequence[type[BaseApp]]:
        return [HoldApp]


class RecordingStore(InMemoryStore):
    """Remembers every step write, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[tuple[str, str]] = []

    async def save_step(self, execution_id: str, step: StepRecord) -> None:
        self.writes.append((step.key, step.status))
        await super().save_step(execution_id, step)


@pytest.fixture
def hold_registry() -> Registry:
    return get_registry(extra=[TestPlugin(), HoldPlugin()])


def echo(node_id: str) -> dict[str, object]:
    return {"id": node_id, "app": "t", "action": "echo", "parameters": {"value": node_id}}


def hold(node_id: str, gate: str) -> dict[str, object]:
    return {"id": node_id, "app": "hold", "action": "hold", "parameters": {"gate": gate}}


async def test_a_quick_step_is_written_once_but_observers_see_it_start(
    hold_registry: Registry,
) -> None:
    store = RecordingStore()
    seen: list[tuple[str, str]] = []

    def observe(execution: ExecutionRecord, step: StepRecord) -> None:
        seen.append((step.key, step.status))

    engine = Engine(registry=hold_registry, store=store, on_step=observe, sleep=Sleeps())
    execution = await engine.run(flow(echo("a"), echo("b")), {})
    assert execution.status == "completed"
    assert [w for w in store.writes if w[0] != "trigger"] == [("a", "success"), ("b", "success")]
    assert [s for s in seen if s[0] != "trigger"] == [
        ("a", "running"),
        ("a", "success"),
        ("b", "running"),
        ("b", "success"),
    ]
    stored = await store.get_execution(execution.id)
    assert [s.key for s in stored.steps] == ["a", "b"]  # in order


async def test_a_slow_step_shows_as_running_in_the_store_until_it_ends(
    hold_registry: Registry,
) -> None:
    store = RecordingStore()
    GATES["slow"] = asyncio.Event()
    engine = Engine(registry=hold_registry, store=store, running_record_delay=0.05)
    started = await engine.prepare(flow(echo("a"), hold("h", "slow")), {})
    task = asyncio.create_task(engine.execute(started, flow(echo("a"), hold("h", "slow"))))
    for _ in range(200):
        if ("h", "running") in store.writes:
            break
        await asyncio.sleep(0.01)
    meanwhile = await store.get_execution(started.id)
    assert meanwhile.step("h") is not None and meanwhile.step("h").status == "running"
    GATES["slow"].set()
    done = await task
    assert done.status == "completed"
    assert [w for w in store.writes if w[0] == "h"] == [("h", "running"), ("h", "success")]
    assert (await store.get_execution(started.id)).step("h").status == "success"


async def test_a_step_cancelled_before_the_delay_is_stored_as_it_was(
    hold_registry: Registry,
) -> None:
    store = RecordingStore()
    GATES["never"] = asyncio.Event()
    engine = Engine(registry=hold_registry, store=store, running_record_delay=60)
    workflow = flow(hold("h", "never"))
    started = await engine.prepare(workflow, {})
    task = asyncio.create_task(engine.execute(started, workflow))
    await asyncio.sleep(0.05)
    assert ("h", "running") not in store.writes  # not yet: the delay is a minute
    cancelled = await engine.cancel(started.id)
    await asyncio.gather(task, return_exceptions=True)
    assert cancelled.status == "cancelled"
    stored = await store.get_execution(started.id)
    assert stored.status == "cancelled"
    assert stored.step("h") is not None and stored.step("h").status == "running"


async def test_no_delay_writes_the_running_record_before_the_action(
    hold_registry: Registry,
) -> None:
    store = RecordingStore()
    engine = Engine(registry=hold_registry, store=store, running_record_delay=0, sleep=Sleeps())
    execution = await engine.run(flow(echo("a")), {})
    assert execution.status == "completed"
    assert [w for w in store.writes if w[0] == "a"] == [("a", "running"), ("a", "success")]
