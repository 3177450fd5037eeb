"""Executions on Temporal: one workflow per execution, one activity per step.

Install ``docg-core[temporal]``. The server uses it when ``TEMPORAL_ADDRESS`` is set; the
steps run on workers (``docg worker``, or :func:`create_worker` in your own process)::

    runner = TemporalRunner(engine, address="localhost:7233")
    execution = await runner.start(workflow, {"deal_id": 42})

Every step's record is written to the engine's store by the activity that ran it, so the
run history is the same as with the inline runner.
"""

from __future__ import annotations

from ._messages import DEFAULT_PAYLOAD_LIMIT, ExecutionInput, PayloadTooLarge, StepOutcome
from ._retry import temporal_retry_policy
from .activities import StepActivities
from .runner import DEFAULT_TASK_QUEUE, TemporalOptions, TemporalRunner, execution_input
from .schedules import delete_schedule, schedule_id, upsert_schedule
from .worker import PASSTHROUGH_MODULES, create_worker, sandbox_runner
from .workflow import SIGNAL_NAMES, ExecutionWorkflow

__all__ = [
    "DEFAULT_PAYLOAD_LIMIT",
    "DEFAULT_TASK_QUEUE",
    "PASSTHROUGH_MODULES",
    "SIGNAL_NAMES",
    "ExecutionInput",
    "ExecutionWorkflow",
    "PayloadTooLarge",
    "StepActivities",
    "StepOutcome",
    "TemporalOptions",
    "TemporalRunner",
    "create_worker",
    "delete_schedule",
    "execution_input",
    "sandbox_runner",
    "schedule_id",
    "temporal_retry_policy",
    "upsert_schedule",
]
