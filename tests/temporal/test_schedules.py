"""Temporal Schedules for ``schedule/cron`` workflows: created, replaced, fired (here by
``trigger()``: the cron never matches during the test), and deleted."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from support.apps import flow
from temporalio.client import Client
from temporalio.worker import Worker

from docg_core.runners.temporal import TemporalRunner, delete_schedule, upsert_schedule
from docg_core.workflow import Workflow

pytestmark = [pytest.mark.temporal, pytest.mark.asyncio(loop_scope="session")]


def scheduled_flow(flow_id: str, cron: str = "0 0 1 1 *", value: str = "first") -> Workflow:
    return flow(
        {
            "id": "when",
            "app": "t",
            "action": "echo",
            "parameters": {"value": f"{value} {{{{trigger.scheduled_at}}}}"},
        },
        id=flow_id,
        trigger={"app": "schedule", "key": "cron", "parameters": {"cron": cron}},
    )


async def test_a_schedule_starts_an_execution_and_can_be_replaced_and_deleted(
    client: Client, runner: TemporalRunner, worker: Worker, task_queue: str
) -> None:
    flow_id = f"sched-{uuid.uuid4().hex[:8]}"
    wf = scheduled_flow(flow_id)
    sid = await upsert_schedule(client, wf, organization_id="org-1", task_queue=task_queue)
    assert sid == f"docg-schedule-{flow_id}"
    replaced = scheduled_flow(flow_id, cron="0 0 2 1 *", value="second")
    assert await upsert_schedule(client, replaced, task_queue=task_queue) == sid
    handle = client.get_schedule_handle(sid)
    described = await handle.describe()
    (calendar,) = described.schedule.spec.calendars  # the server keeps cron as a calendar
    assert [r.start for r in calendar.day_of_month] == [2]  # the replacement's

    await handle.trigger()
    for _ in range(200):
        actions = (await handle.describe()).info.recent_actions
        if actions:
            break
        await asyncio.sleep(0.05)
    assert len(actions) == 1
    execution_id = actions[0].action.workflow_id
    assert execution_id.startswith(f"{sid}-run")
    result = client.get_workflow_handle(execution_id).result()
    assert await asyncio.wait_for(result, timeout=20) == "completed"
    done = await runner.engine.store.get_execution(execution_id)  # its first activity made it
    assert done.status == "completed", done.error
    assert done.flow_id == flow_id
    step = done.step("when")
    assert step is not None and step.data_out is not None
    assert step.data_out["data"]["value"].startswith("second 20")  # the replaced version ran

    assert await delete_schedule(client, wf) is True
    assert await delete_schedule(client, wf) is False


async def test_only_a_cron_workflow_gets_a_schedule(client: Client) -> None:
    with pytest.raises(ValueError, match="does not have a schedule trigger"):
        await upsert_schedule(client, flow({"id": "x", "app": "t", "action": "echo"}, id="f1"))
