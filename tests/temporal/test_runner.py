"""The Temporal runner against a real dev server: same records as inline, waits, retries,
failures, cancel, timeouts and the approve-before-wait race."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from support.apps import TestPlugin, flow
from temporal.apps import RUNS
from temporal.conftest import make_worker
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.worker import Worker

from docg_core.engine import Engine
from docg_core.plugins import get_registry
from docg_core.records import ExecutionRecord
from docg_core.runners import Runner
from docg_core.runners.temporal import TemporalOptions, TemporalRunner
from docg_core.store import InMemoryStore

pytestmark = [pytest.mark.temporal, pytest.mark.asyncio(loop_scope="session")]

BRANCH_FLOW = flow(
    {"id": "first", "app": "t", "action": "echo", "parameters": {"value": "{{trigger.amount}}"}},
    {
        "id": "route",
        "type": "branch",
        "branches": [
            {
                "name": "big",
                "conditions": {
                    "type": "and",
                    "rules": [{"field": "{{step.first.value}}", "operator": ">", "value": 100}],
                },
                "nodes": [
                    {"id": "big", "app": "t", "action": "echo", "parameters": {"value": "big"}}
                ],
            },
            {
                "name": "small",
                "nodes": [
                    {"id": "small", "app": "t", "action": "echo", "parameters": {"value": "small"}}
                ],
            },
        ],
    },
    {
        "id": "each",
        "type": "loop",
        "items": "{{trigger.lines}}",
        "nodes": [
            {"id": "line", "app": "t", "action": "echo", "parameters": {"value": "{{loop.item}}"}}
        ],
    },
)


def approval(**parameters: Any) -> dict[str, Any]:
    return {
        "id": "ok",
        "app": "approval",
        "action": "request-approval",
        "parameters": {"title": "Contract", **parameters},
    }


async def settle(runner: TemporalRunner, execution_id: str, seconds: float = 20) -> ExecutionRecord:
    """The execution once it has finished (a wait in between is waited through)."""
    deadline = time.monotonic() + seconds
    while True:
        execution = await runner.wait(execution_id, timeout=seconds)
        if execution.finished or time.monotonic() > deadline:
            return execution
        await asyncio.sleep(0.05)


def history(execution: ExecutionRecord) -> list[tuple[Any, ...]]:
    return [(s.key, s.node_id, s.status, s.data_in, s.data_out, s.attempt) for s in execution.steps]


async def test_runner_implements_the_protocol(runner: TemporalRunner) -> None:
    assert isinstance(runner, Runner)


async def test_branch_flow_records_the_same_steps_as_inline(
    runner: TemporalRunner, worker: Worker
) -> None:
    trigger = {"amount": 250, "lines": ["a", "b"]}
    inline = await Engine(registry=get_registry(extra=[TestPlugin()])).run(BRANCH_FLOW, trigger)
    started = await runner.start(BRANCH_FLOW, trigger)
    done = await runner.wait(started.id, timeout=20)
    assert inline.status == "completed"
    assert done.status == "completed"
    assert history(done) == history(inline)
    assert [s.key for s in done.steps] == ["first", "route", "big", "each", "line[0]", "line[1]"]


async def test_a_repeated_start_runs_the_execution_once(
    runner: TemporalRunner, worker: Worker
) -> None:
    wf = flow({"id": "doc", "app": "tt", "action": "write-document", "parameters": {"text": "hi"}})
    first = await runner.start(wf, {}, execution_id="exec-once")
    again = await runner.start(wf, {}, execution_id="exec-once")
    done = await runner.wait(first.id, timeout=20)
    assert again.id == first.id
    assert done.status == "completed"
    assert RUNS["exec-once:doc"] == 1


async def test_an_approval_waits_survives_a_worker_restart_and_resumes(
    runner: TemporalRunner, client: Client, engine: Engine, task_queue: str
) -> None:
    wf = flow(approval(), {"id": "after", "app": "t", "action": "echo", "parameters": {"value": 1}})
    async with make_worker(client, engine, task_queue):
        started = await runner.start(wf, {})
        waiting = await runner.wait(started.id, timeout=20)
    assert waiting.status == "waiting"
    assert waiting.step("ok") is not None and waiting.step("ok").status == "waiting"  # type: ignore[union-attr]
    async with make_worker(client, engine, task_queue):  # a new worker: the old one is gone
        await runner.resume(started.id, "ok", {"decision": "approved", "comment": "fine"})
        done = await runner.wait(started.id, timeout=20)
    assert done.status == "completed"
    ok = done.step("ok")
    assert ok is not None and ok.status == "success"
    assert ok.data_out is not None and ok.data_out["data"]["decision"] == "approved"
    assert [s.key for s in done.steps] == ["ok", "after"]


async def test_a_second_resume_is_refused(runner: TemporalRunner, worker: Worker) -> None:
    from docg_core.errors import ExecutionError

    started = await runner.start(flow(approval()), {})
    assert (await runner.wait(started.id, timeout=20)).status == "waiting"
    await runner.resume(started.id, "ok", {"decision": "approved"})
    with pytest.raises(ExecutionError):
        await runner.resume(started.id, "ok", {"decision": "approved"})
    assert (await runner.wait(started.id, timeout=20)).status == "completed"


async def test_a_step_failing_twice_is_retried_with_backoff(
    runner: TemporalRunner, worker: Worker
) -> None:
    started_at = time.monotonic()
    started = await runner.start(flow({"id": "f", "app": "tt", "action": "fail-twice"}), {})
    done = await runner.wait(started.id, timeout=20)
    assert done.status == "completed"
    assert RUNS[f"{started.id}:f"] == 3
    step = done.step("f")
    assert step is not None and step.attempt == 3 and step.status == "success"
    assert time.monotonic() - started_at >= 0.2 + 0.4  # the policy's backoff: 0.2s, then 0.4s


async def test_a_non_retryable_error_fails_at_once(runner: TemporalRunner, worker: Worker) -> None:
    started = await runner.start(
        flow({"id": "b", "app": "t", "action": "boom", "parameters": {"message": "bad input"}}), {}
    )
    done = await runner.wait(started.id, timeout=20)
    assert done.status == "failed"
    assert done.error == "node 'b' failed: bad input"  # as inline (written by the activity)
    step = done.step("b")
    assert step is not None and step.attempt == 1 and step.error_code == "boom"


async def test_cancel_cancels_the_temporal_workflow(
    runner: TemporalRunner, worker: Worker, client: Client
) -> None:
    started = await runner.start(flow(approval()), {})
    assert (await runner.wait(started.id, timeout=20)).status == "waiting"
    cancelled = await runner.cancel(started.id)
    assert cancelled.status == "cancelled"
    handle = client.get_workflow_handle(started.id)
    for _ in range(100):
        if (result := await handle.describe()).status == WorkflowExecutionStatus.CANCELED:
            break
        await asyncio.sleep(0.05)
    assert result.status == WorkflowExecutionStatus.CANCELED
    assert (await runner.engine.store.get_execution(started.id)).status == "cancelled"


async def test_an_expired_approval_takes_its_timeout_outcome(
    runner: TemporalRunner, worker: Worker
) -> None:
    wf = flow(approval(timeout_hours=1 / 3600, on_timeout="approved"))  # one second
    started = await runner.start(wf, {})
    done = await settle(runner, started.id)
    assert done.status == "completed"
    ok = done.step("ok")
    assert ok is not None and ok.data_out is not None
    assert ok.data_out["data"]["decision"] == "approved"
    assert ok.data_out["data"]["comment"] == "expired"


class _ApproveAtOnce(InMemoryStore):
    """Approves an execution the instant it is recorded as waiting — inside the activity,
    before the workflow has seen the approval step's result."""

    runner: TemporalRunner

    async def update_execution(self, execution: ExecutionRecord) -> None:
        await super().update_execution(execution)
        if execution.status == "waiting":
            await self.runner.resume(execution.id, "ok", {"decision": "approved"})


async def test_a_decision_sent_before_the_wait_is_kept(
    client: Client, engine: Engine, task_queue: str
) -> None:
    store = _ApproveAtOnce()
    engine.store = store
    runner = TemporalRunner(
        engine,
        client,
        task_queue=task_queue,
        poll_interval=0.02,
        # resumed from inside the activity, which cannot answer before it returns
        options=TemporalOptions(answer_timeout=0),
    )
    store.runner = runner
    async with make_worker(client, engine, task_queue):
        started = await runner.start(flow(approval()), {})
        done = await settle(runner, started.id)
    assert done.status == "completed"
    ok = done.step("ok")
    assert ok is not None and ok.data_out is not None
    assert ok.data_out["data"]["decision"] == "approved"


async def test_an_output_over_the_limit_fails_the_step_clearly(
    runner: TemporalRunner, worker: Worker
) -> None:
    started = await runner.start(
        flow({"id": "big", "app": "tt", "action": "big", "parameters": {"kib": 300}}), {}
    )
    done = await runner.wait(started.id, timeout=20)
    assert done.status == "failed"
    step = done.step("big")
    assert step is not None and step.error_code == "payload_too_large"
    assert step.error is not None and "256 KiB limit" in step.error


async def test_signals_by_name_resume_the_waiting_step(
    runner: TemporalRunner, worker: Worker, client: Client
) -> None:
    started = await runner.start(flow(approval(on_reject="continue")), {})
    assert (await runner.wait(started.id, timeout=20)).status == "waiting"
    await client.get_workflow_handle(started.id).signal("reject", args=["ok", {"comment": "no"}])
    done = await settle(runner, started.id)
    assert done.status == "completed"
    ok = done.step("ok")
    assert ok is not None and ok.data_out is not None
    assert ok.data_out["data"]["decision"] == "rejected"


FORMAT_FLOW = flow(
    {
        "id": "name",
        "app": "formatter",
        "action": "text",
        "parameters": {"transform": "upper", "input": "{{trigger.name}}"},
    },
    {"id": "after", "app": "t", "action": "echo", "parameters": {"value": "{{step.name.output}}"}},
)


async def test_quick_steps_run_as_local_activities_with_the_same_records(
    runner: TemporalRunner, worker: Worker, client: Client
) -> None:
    from temporalio.api.enums.v1 import EventType

    inline = await Engine(registry=get_registry(extra=[TestPlugin()])).run(
        FORMAT_FLOW, {"name": "acme"}
    )
    started = await runner.start(FORMAT_FLOW, {"name": "acme"})
    done = await runner.wait(started.id, timeout=20)
    assert done.status == "completed"
    assert history(done) == history(inline)
    events = (await client.get_workflow_handle(started.id).fetch_history()).events
    scheduled = [e for e in events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED]
    markers = [e for e in events if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED]
    # formatter ran as a local activity (a marker), echo as an activity
    assert [e.activity_task_scheduled_event_attributes.activity_type.name for e in scheduled] == [
        "docg.run_step"
    ]
    assert len(markers) == 1  # the formatter step; echo, the last, wrote the final status


async def test_approval_policy_all_waits_for_every_approver(
    runner: TemporalRunner, worker: Worker
) -> None:
    approvers = ["ana@example.com", "ben@example.com"]
    wf = flow(approval(approvers=approvers, approval_policy="all"))
    started = await runner.start(wf, {})
    waiting = await runner.wait(started.id, timeout=20)
    assert waiting.status == "waiting"
    first = waiting.step("ok")
    assert first is not None and first.wait is not None
    await runner.resume(started.id, "ok", {"decision": "approved", "decided_by": approvers[0]})
    again = await runner.wait(started.id, timeout=20)
    assert again.status == "waiting"
    ok = again.step("ok")
    assert ok is not None and ok.wait is not None and ok.data_out is not None
    assert ok.wait.resume_token == first.wait.resume_token
    assert ok.data_out["data"]["pending"] == [approvers[1]]
    await runner.resume(started.id, "ok", {"decision": "approved", "decided_by": approvers[1]})
    done = await settle(runner, started.id)
    assert done.status == "completed"
    ok = done.step("ok")
    assert ok is not None and ok.data_out is not None
    assert sorted(ok.data_out["data"]["approvals"]) == approvers


async def test_a_refused_resume_payload_is_reported_and_the_step_waits_on(
    runner: TemporalRunner, worker: Worker
) -> None:
    from docg_core.errors import ValidationError

    started = await runner.start(flow(approval()), {})
    assert (await runner.wait(started.id, timeout=20)).status == "waiting"
    with pytest.raises(ValidationError, match="decision must be"):
        await runner.resume(started.id, "ok", {"decision": "maybe"})
    waiting = await runner.wait(started.id, timeout=20)
    assert waiting.status == "waiting"
    assert waiting.step("ok").status == "waiting"  # type: ignore[union-attr]
    await runner.resume(started.id, "ok", {"decision": "approved"})  # a good one goes through
    assert (await settle(runner, started.id)).status == "completed"


async def test_retry_after_sets_the_next_retry_delay(
    runner: TemporalRunner, worker: Worker
) -> None:
    from temporal.apps import ATTEMPT_TIMES

    started = await runner.start(flow({"id": "r", "app": "tt", "action": "retry-after"}), {})
    done = await runner.wait(started.id, timeout=20)
    assert done.status == "completed"
    first, second = ATTEMPT_TIMES[f"{started.id}:r"]
    # the policy's backoff is 0.05 s; the vendor asked for 1.5 s
    assert second - first >= 1.5
    assert done.step("r").attempt == 2  # type: ignore[union-attr]
