"""The engine's extension points for servers: tenant-scoped connections, the action guard."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest
from support.apps import RUNS, Sleeps, flow

from docg_core.engine import Engine
from docg_core.errors import StepError, ValidationError
from docg_core.plugins import Registry
from docg_core.records import ExecutionRecord, StepRecord


def echo(node_id: str, **parameters: object) -> dict[str, object]:
    return {"id": node_id, "app": "t", "action": "echo", "parameters": parameters}


class TenantConnections:
    def __init__(self) -> None:
        self.asked: list[tuple[str, str, str | None]] = []

    async def get_credentials(
        self, connection_id: str, *, app_key: str, organization_id: str | None
    ) -> Mapping[str, Any]:
        self.asked.append((connection_id, app_key, organization_id))
        if organization_id != "org-1":
            raise KeyError(connection_id)
        return {"api_key": "sk-live-123456"}


async def test_connections_are_looked_up_for_the_executions_organization(
    registry: Registry, sleeps: Sleeps
) -> None:
    connections = TenantConnections()
    engine = Engine(registry=registry, sleep=sleeps, connections=connections)
    node = {**echo("a", value=1), "connection": "main"}
    ours = await engine.run(flow(node), {}, organization_id="org-1")
    theirs = await engine.run(flow(node), {}, organization_id="org-2")
    assert ours.status == "completed"
    assert theirs.status == "failed"
    assert theirs.error == "node 'a' failed: connection 'main' not found"
    assert connections.asked == [("main", "t", "org-1"), ("main", "t", "org-2")]


async def test_the_action_guard_runs_once_per_step_before_the_action(
    registry: Registry, sleeps: Sleeps
) -> None:
    RUNS.clear()
    seen: list[tuple[str, str, int]] = []

    async def guard(execution: ExecutionRecord, step: StepRecord) -> None:
        seen.append((step.key, step.status, RUNS[f"{execution.id}:f"]))

    engine = Engine(registry=registry, sleep=sleeps, before_action=guard)
    node = {"id": "f", "app": "t", "action": "flaky", "parameters": {"failures": 2}}
    execution = await engine.run(flow(node), {})
    assert execution.status == "completed"
    assert execution.step("f").attempt == 3
    assert seen == [("f", "running", 0)]  # once, before the first of three attempts


async def test_a_guard_that_refuses_fails_the_step_with_its_code_and_runs_nothing(
    registry: Registry, sleeps: Sleeps
) -> None:
    RUNS.clear()

    async def guard(execution: ExecutionRecord, step: StepRecord) -> None:
        if step.node_id == "b":
            raise StepError("the plan's document limit is reached", code="plan-limit-reached")

    engine = Engine(registry=registry, sleep=sleeps, before_action=guard)
    execution = await engine.run(flow(echo("a", value=1), echo("b", value=2)), {})
    assert execution.status == "failed"
    step = execution.step("b")
    assert (step.status, step.error_code) == ("failed", "plan-limit-reached")
    assert RUNS["a"] == 1 and RUNS["b"] == 0


async def test_mocked_steps_do_not_reach_the_guard(registry: Registry, sleeps: Sleeps) -> None:
    seen: list[str] = []

    async def guard(execution: ExecutionRecord, step: StepRecord) -> None:
        seen.append(step.key)

    engine = Engine(registry=registry, sleep=sleeps, before_action=guard)
    execution = await engine.run(
        flow(echo("a", value=1), echo("b", value=2)), {}, mock_data={"a": {"value": 9}}
    )
    assert execution.status == "completed"
    assert seen == ["b"]


async def test_the_triggers_connection_reaches_the_trigger_as_auth(
    registry: Registry, sleeps: Sleeps
) -> None:
    connections = TenantConnections()
    engine = Engine(registry=registry, sleep=sleeps, connections=connections)
    workflow = flow(echo("a", value="{{trigger.x}}"))
    workflow.trigger.connection = "main"
    execution = await engine.run(workflow, {"x": 1}, organization_id="org-1")
    assert execution.status == "completed"
    assert connections.asked == [("main", "manual", "org-1")]
    assert await engine.trigger_credentials(workflow, "org-1") == {"api_key": "sk-live-123456"}


async def test_an_unknown_trigger_connection_is_a_validation_error(
    registry: Registry, sleeps: Sleeps
) -> None:
    engine = Engine(registry=registry, sleep=sleeps, connections=TenantConnections())
    workflow = flow(echo("a", value=1))
    workflow.trigger.connection = "main"
    with pytest.raises(ValidationError, match="connection 'main' not found"):
        await engine.run(workflow, {}, organization_id="org-2")


async def test_an_async_step_observer_is_awaited_for_every_step_write(
    registry: Registry, sleeps: Sleeps
) -> None:
    seen: list[tuple[str, str]] = []

    async def observe(execution: ExecutionRecord, step: StepRecord) -> None:
        await asyncio.sleep(0)
        seen.append((step.key, step.status))

    engine = Engine(registry=registry, sleep=sleeps, on_step=observe)
    await engine.run(flow(echo("a", value=1)), {})
    assert seen == [("a", "running"), ("a", "success")]
