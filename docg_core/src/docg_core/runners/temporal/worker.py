"""A Temporal worker for DocG executions, bound to an engine."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from ...engine import Engine
from ._messages import DEFAULT_PAYLOAD_LIMIT
from .activities import StepActivities
from .runner import DEFAULT_TASK_QUEUE
from .workflow import ExecutionWorkflow

__all__ = ["PASSTHROUGH_MODULES", "create_worker", "sandbox_runner"]

PASSTHROUGH_MODULES = ("docg_core", "pydantic", "pydantic_core", "httpx", "sqlalchemy", "yaml")
"""Imported once, outside the workflow sandbox (deterministic code or never called there)."""

# Why workers run the workflow unsandboxed by default: everything the workflow calls is in
# ``docg_core`` (the node walk, variables, conditions), which has to be passed through for
# speed, and the sandbox checks nothing inside passed-through modules. What remained was its
# cost: a fresh sandbox per execution, ~10 ms of worker CPU, about half of what one
# execution of a short flow costs the worker. Determinism comes from the code instead: time
# and ids are taken from ``workflow.now()``/``workflow.uuid4()`` only, and
# ``tests/temporal/test_replay.py`` replays recorded histories (sandboxed and not).


def sandbox_runner() -> SandboxedWorkflowRunner:
    """The workflow sandbox with :data:`PASSTHROUGH_MODULES` (for workers and replayers)."""
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
    )


def create_worker(
    client: Client,
    engine: Engine,
    *,
    task_queue: str = DEFAULT_TASK_QUEUE,
    max_concurrent_activities: int = 100,
    max_concurrent_workflow_tasks: int = 500,
    heartbeat_every: float = 10.0,
    payload_limit: int = DEFAULT_PAYLOAD_LIMIT,
    graceful_shutdown: float = 30.0,
    sandboxed: bool = False,
) -> Worker:
    """A worker running DocG's workflow and activities with ``engine`` (its store, registry,
    storage and connections). Run it with ``async with worker:`` or ``await worker.run()``;
    on shutdown, running steps get ``graceful_shutdown`` seconds to finish. ``sandboxed=True``
    runs the workflow in Temporal's sandbox (see the note above on why it is off).

    A workflow task holds its slot (``max_concurrent_workflow_tasks``) while its local
    activities run, and a start is handed to this worker (eager start) only while a slot is
    free; past that, the start goes through the server's task queue, which costs the server
    three more calls. Hence many slots: an open task costs little more than its slot."""
    activities = StepActivities(
        engine, heartbeat_every=heartbeat_every, payload_limit=payload_limit
    )
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[ExecutionWorkflow],
        activities=activities.all(),
        max_concurrent_activities=max_concurrent_activities,
        max_concurrent_workflow_tasks=max_concurrent_workflow_tasks,
        max_concurrent_local_activities=max_concurrent_activities,
        graceful_shutdown_timeout=timedelta(seconds=graceful_shutdown),
        workflow_runner=sandbox_runner() if sandboxed else UnsandboxedWorkflowRunner(),
    )
