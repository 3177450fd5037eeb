"""Waiting steps: approvals and delays pause an execution; resume continues it exactly once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from support.apps import RUNS, flow

from docg_core.engine import Engine
from docg_core.errors import ExecutionError, ValidationError
from docg_core.plugins import Registry
from docg_core.sqlstore import SQLStore


def approval(node_id: str = "ok", **parameters: object) -> dict[str, object]:
    return {
        "id": node_id,
        "app": "approval",
        "action": "request-approval",
        "parameters": {"title": "Contract for {{trigger.client}}", **parameters},
    }


def echo(node_id: str, **parameters: object) -> dict[str, object]:
    return {"id": node_id, "app": "t", "action": "echo", "parameters": parameters}


async def test_an_approval_pauses_the_execution(engine: Engine) -> None:
    execution = await engine.run(
        flow(echo("before"), approval(), echo("after")), {"client": "Acme"}
    )
    assert execution.status == "waiting"
    step = execution.step("ok")
    assert step.status == "waiting"
    assert step.wait is not None and step.wait.reason == "approval"
    assert len(step.wait.resume_token or "") >= 32
    assert step.data_out["data"]["title"] == "Contract for Acme"
    assert execution.step("after") is None


async def test_resume_continues_after_the_waiting_step_without_rerunning_earlier_ones(
    engine: Engine,
) -> None:
    wf = flow(
        echo("before"),
        approval(),
        echo("after", value="{{step.ok.decision}}/{{step.before.value}}"),
    )
    execution = await engine.run(wf, {"client": "Acme"})
    resumed = await engine.resume(execution.id, "ok", {"decision": "approved", "comment": "fine"})
    assert resumed.status == "completed"
    assert RUNS["before"] == 1
    assert RUNS["after"] == 1
    data = resumed.step("ok").data_out["data"]
    assert data["decision"] == "approved"
    assert data["comment"] == "fine"
    assert datetime.fromisoformat(data["decided_at"]).tzinfo is not None
    assert resumed.step("after").data_out["data"]["value"] == "approved/"
    assert [s.key for s in resumed.steps] == ["before", "ok", "after"]


async def test_a_second_resume_of_the_same_step_is_rejected(engine: Engine) -> None:
    execution = await engine.run(flow(approval()), {"client": "x"})
    await engine.resume(execution.id, "ok", {"decision": "approved"})
    with pytest.raises(ExecutionError, match="not waiting"):
        await engine.resume(execution.id, "ok", {"decision": "approved"})


async def test_concurrent_resumes_continue_the_execution_exactly_once(engine: Engine) -> None:
    execution = await engine.run(flow(approval(), echo("after")), {"client": "x"})
    results = await asyncio.gather(
        *(engine.resume(execution.id, "ok", {"decision": "approved"}) for _ in range(10)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, ExecutionError) for r in results if isinstance(r, Exception))
    assert RUNS["after"] == 1


async def test_rejection_fails_the_execution(engine: Engine) -> None:
    execution = await engine.run(flow(approval(), echo("after")), {"client": "x"})
    resumed = await engine.resume(
        execution.id, "ok", {"decision": "rejected", "comment": "too expensive"}
    )
    assert resumed.status == "failed"
    assert "rejected: too expensive" in resumed.error
    assert resumed.step("ok").data_out["data"]["decision"] == "rejected"
    assert RUNS["after"] == 0


async def test_rejection_can_continue_when_the_node_says_so(engine: Engine) -> None:
    wf = flow(approval(on_reject="continue"), echo("after", value="{{step.ok.decision}}"))
    execution = await engine.run(wf, {"client": "x"})
    resumed = await engine.resume(execution.id, "ok", {"decision": "rejected"})
    assert resumed.status == "completed"
    assert resumed.step("after").data_out["data"]["value"] == "rejected"


async def test_an_invalid_decision_is_refused_and_the_step_keeps_waiting(engine: Engine) -> None:
    execution = await engine.run(flow(approval()), {"client": "x"})
    with pytest.raises(ValidationError, match="decision must be"):
        await engine.resume(execution.id, "ok", {"decision": "maybe"})
    stored = await engine.store.get_execution(execution.id)
    assert stored.status == "waiting"
    assert stored.step("ok").status == "waiting"
    resumed = await engine.resume(execution.id, "ok", {"decision": "approve"})
    assert resumed.status == "completed"


async def test_resume_of_an_unknown_step_names_it(engine: Engine) -> None:
    execution = await engine.run(flow(approval()), {"client": "x"})
    with pytest.raises(ExecutionError, match="no step 'nope'"):
        await engine.resume(execution.id, "nope", {})


async def test_a_cancelled_execution_cannot_be_resumed(engine: Engine) -> None:
    execution = await engine.run(flow(approval()), {"client": "x"})
    cancelled = await engine.cancel(execution.id)
    assert cancelled.status == "cancelled"
    with pytest.raises(ExecutionError, match="cancelled"):
        await engine.resume(execution.id, "ok", {"decision": "approved"})


async def test_approvals_inside_a_loop_wait_once_per_item(engine: Engine) -> None:
    loop = {
        "id": "each",
        "type": "loop",
        "items": "{{trigger.docs}}",
        "nodes": [approval("ok", title="{{loop.item}}")],
    }
    wf = flow(loop, echo("after", value="{{step.each.count}}"))
    execution = await engine.run(wf, {"docs": ["a", "b"]})
    assert execution.step("ok[0]").status == "waiting"
    second = await engine.resume(execution.id, "ok[0]", {"decision": "approved"})
    assert second.status == "waiting"
    assert second.step("ok[1]").data_out["data"]["title"] == "b"
    done = await engine.resume(execution.id, "ok", {"decision": "approved"})  # the one waiting
    assert done.status == "completed"
    assert done.step("after").data_out["data"]["value"] == 2
    assert [s.key for s in done.steps] == ["each", "ok[0]", "ok[1]", "after"]


async def test_branch_choice_is_kept_when_resuming(engine: Engine) -> None:
    route = {
        "id": "route",
        "type": "branch",
        "branches": [
            {
                "name": "fresh",
                "conditions": {
                    "type": "and",
                    "rules": [
                        {"field": "{{now}}", "operator": "<", "value": "2000-01-01T00:00:00Z"}
                    ],
                },
                "nodes": [echo("never")],
            },
            {"name": "default", "conditions": None, "nodes": [approval(), echo("after")]},
        ],
    }
    execution = await engine.run(flow(route), {"client": "x"})
    resumed = await engine.resume(execution.id, "ok", {"decision": "approved"})
    assert [s.key for s in resumed.steps] == ["route", "ok", "after"]


async def test_an_expired_approval_takes_the_configured_outcome(engine: Engine) -> None:
    wf = flow(approval(timeout_hours=1, on_timeout="approved"), echo("after"))
    execution = await engine.run(wf, {"client": "x"})
    assert await engine.resume_due(datetime.now(UTC)) == []
    resumed = await engine.resume_due(datetime.now(UTC) + timedelta(hours=2))
    assert [e.id for e in resumed] == [execution.id]
    assert resumed[0].status == "completed"
    assert resumed[0].step("ok").data_out["data"]["decision"] == "approved"


async def test_a_short_delay_sleeps_in_process(engine: Engine) -> None:
    wf = flow(
        {
            "id": "pause",
            "app": "delay",
            "action": "wait",
            "parameters": {"amount": 0.01, "unit": "seconds"},
        },
        echo("after"),
    )
    execution = await engine.run(wf, {})
    assert execution.status == "completed"


async def test_a_long_delay_waits_and_resumes_when_due(engine: Engine) -> None:
    wf = flow(
        {
            "id": "pause",
            "app": "delay",
            "action": "wait",
            "parameters": {"amount": 2, "unit": "hours"},
        },
        echo("after"),
    )
    execution = await engine.run(wf, {})
    assert execution.status == "waiting"
    assert execution.step("pause").wait.resume_at is not None
    assert await engine.resume_due() == []
    resumed = await engine.resume_due(datetime.now(UTC) + timedelta(hours=3))
    assert resumed[0].status == "completed"
    assert RUNS["after"] == 1


async def test_a_waiting_execution_resumes_from_another_engine_on_the_same_database(
    registry: Registry, tmp_path: object
) -> None:
    url = f"sqlite:///{tmp_path}/docg.db"
    first_store = SQLStore(url)
    first = Engine(registry=registry, store=first_store)
    execution = await first.run(flow(echo("before"), approval(), echo("after")), {"client": "x"})
    await first_store.close()

    second_store = SQLStore(url)
    try:
        resumed = await Engine(registry=registry, store=second_store).resume(
            execution.id, "ok", {"decision": "approved"}
        )
    finally:
        await second_store.close()
    assert resumed.status == "completed"
    assert [s.key for s in resumed.steps] == ["before", "ok", "after"]
    assert RUNS["before"] == 1
