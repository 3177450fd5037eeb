"""Scheduled workflows on Temporal Schedules: one schedule per workflow with a cron trigger.

Each firing starts an :class:`~.workflow.ExecutionWorkflow` whose id (Temporal appends the
fire time to the schedule's id) becomes the execution id; its first activity prepares the
execution (runs the trigger and stores the record).
"""

from __future__ import annotations

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from ...workflow import Workflow
from ._messages import ExecutionInput
from .runner import DEFAULT_TASK_QUEUE, TemporalOptions
from .workflow import ExecutionWorkflow

__all__ = ["delete_schedule", "schedule_id", "upsert_schedule"]


def schedule_id(workflow: Workflow) -> str:
    """The schedule id of a workflow: ``docg-schedule-<flow id>``."""
    if not workflow.id:
        raise ValueError("a scheduled workflow needs an id")
    return f"docg-schedule-{workflow.id}"


def _schedule(
    workflow: Workflow,
    organization_id: str | None,
    task_queue: str,
    options: TemporalOptions,
) -> Schedule:
    trigger = workflow.trigger
    if (trigger.app, trigger.key) != ("schedule", "cron"):
        raise ValueError(f"workflow {workflow.id!r} does not have a schedule trigger")
    inp = ExecutionInput(
        execution_id="",
        workflow=workflow.model_dump(mode="json", exclude_defaults=True),
        organization_id=organization_id,
        scheduled=True,
        activity_timeout=options.activity_timeout,
        heartbeat_timeout=options.heartbeat_timeout,
    )
    sid = schedule_id(workflow)
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ExecutionWorkflow.run, inp, id=f"{sid}-run", task_queue=task_queue
        ),
        spec=ScheduleSpec(
            cron_expressions=[str(trigger.parameters["cron"])],
            time_zone_name=str(trigger.parameters.get("timezone") or "UTC"),
        ),
    )


async def upsert_schedule(
    client: Client,
    workflow: Workflow,
    *,
    organization_id: str | None = None,
    task_queue: str = DEFAULT_TASK_QUEUE,
    options: TemporalOptions | None = None,
) -> str:
    """Create the schedule of ``workflow`` (a ``schedule/cron`` trigger), or replace it with
    the workflow's current version; returns the schedule id."""
    schedule = _schedule(workflow, organization_id, task_queue, options or TemporalOptions())
    sid = schedule_id(workflow)
    try:
        await client.create_schedule(sid, schedule)
    except ScheduleAlreadyRunningError:

        def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(sid).update(replace)
    return sid


async def delete_schedule(client: Client, workflow: Workflow) -> bool:
    """Delete the schedule of ``workflow``; False if it had none."""
    try:
        await client.get_schedule_handle(schedule_id(workflow)).delete()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True
