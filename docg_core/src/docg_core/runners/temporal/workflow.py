"""The Temporal workflow of one execution: the node walk, deterministic, and its waits.

Variables and branch choices are resolved here, in the workflow, with ``{{now}}`` and
``{{uuid}}`` taken from :func:`temporalio.workflow.now` and :func:`temporalio.workflow.uuid4`,
so a replay takes the same path; each single node runs as one activity with resolved
parameters (a local activity for the quick ones the input lists in ``local``), and the
step that ends the execution writes its final status. A step that waits (approval,
e-signature, a long delay) waits here, on a durable timer and the decisions received by
signal. A decision is recorded by the signal handler the
moment it arrives and the wait reads that record, so one that arrives before the workflow
starts waiting is kept.

Changing this code changes how recorded histories replay. Keep every change that alters the
commands issued (activities, timers, their order) behind
:func:`temporalio.workflow.patched` or decided by recorded data (the input, an activity's
result), and record a new history under ``tests/temporal/histories/`` (see
``docs/operations-temporal.md``).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy as TemporalRetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from ...engine import NodeWalker, WalkEnded, WalkFailed
    from ...records import StepRecord
    from ...variables import compute_parameters
    from ...workflow import Node, load_workflow
    from ._messages import ExecutionInput, RetrySpec, StatusUpdate, StepInput, StepOutcome
    from ._retry import temporal_retry_policy
    from .activities import StepActivities

__all__ = ["SIGNAL_NAMES", "ExecutionWorkflow"]

SIGNAL_NAMES = ("resume", "approve", "reject", "signature_completed")

_LOCAL = timedelta(seconds=30)
_STORE_RETRY = TemporalRetryPolicy(maximum_interval=timedelta(seconds=10))


@workflow.defn(name="DocgExecution")
class ExecutionWorkflow:
    """One execution. Signals: ``resume(key, payload)`` and its shorthands ``approve``,
    ``reject`` and ``signature_completed``; ``key`` is the step key or the node id."""

    def __init__(self) -> None:
        self.decisions: dict[str, list[tuple[dict[str, Any], str | None]]] = {}
        self.answers: dict[str, dict[str, Any]] = {}
        self.waiting: list[str] = []

    @workflow.signal(name="resume")
    def resume(
        self, key: str, payload: dict[str, Any] | None = None, ticket: str | None = None
    ) -> None:
        """Record a decision for the waiting step ``key`` (kept until the step waits). With
        a ``ticket``, the query ``answer(ticket)`` tells how the step took it."""
        self.decisions.setdefault(key, []).append((dict(payload or {}), ticket))

    @workflow.signal(name="approve")
    def approve(self, key: str, payload: dict[str, Any] | None = None) -> None:
        """``resume`` with ``decision: approved``."""
        self.resume(key, {**(payload or {}), "decision": "approved"})

    @workflow.signal(name="reject")
    def reject(self, key: str, payload: dict[str, Any] | None = None) -> None:
        """``resume`` with ``decision: rejected``."""
        self.resume(key, {**(payload or {}), "decision": "rejected"})

    @workflow.signal(name="signature_completed")
    def signature_completed(self, key: str, payload: dict[str, Any] | None = None) -> None:
        """``resume`` with the signature provider's event."""
        self.resume(key, payload)

    @workflow.query(name="waiting")
    def waiting_steps(self) -> list[str]:
        """The keys of the steps waiting now."""
        return list(self.waiting)

    @workflow.query(name="answer")
    def answer(self, ticket: str) -> dict[str, Any] | None:
        """How the step took the decision sent with ``ticket``: ``{"status", "error"}``,
        status ``invalid`` when the action refused the payload (the step waits on); None
        while it has not been taken yet."""
        return self.answers.get(ticket)

    @workflow.run
    async def run(self, inp: ExecutionInput) -> str:
        """Walk the execution's nodes; the final status."""
        if inp.scheduled:
            inp.execution_id = workflow.info().workflow_id
            inp.trigger_data = {"scheduled_at": workflow.now().isoformat()}
            inp = await workflow.execute_activity_method(
                StepActivities.prepare_scheduled,
                inp,
                start_to_close_timeout=timedelta(seconds=inp.activity_timeout),
                retry_policy=_STORE_RETRY,
            )
        walk = _TemporalWalk(self, inp)
        status, error = "completed", None
        try:
            await walk.walk(walk.workflow.nodes, None)
        except WalkEnded:
            pass
        except WalkFailed as failed:
            status, error = "failed", failed.message
        except ActivityError as exc:
            cause = exc.cause if exc.cause is not None else exc
            status, error = "failed", f"step could not run: {cause}"
        except asyncio.CancelledError:
            await self.set_status(inp.execution_id, "cancelled", "cancelled")
            raise
        if not walk.status_written:
            await self.set_status(inp.execution_id, status, error)
        return status

    async def set_status(self, execution_id: str, status: str, error: str | None) -> None:
        await workflow.execute_local_activity_method(
            StepActivities.set_status,
            StatusUpdate(execution_id, status, error),
            start_to_close_timeout=_LOCAL,
            retry_policy=_STORE_RETRY,
        )

    async def decision(
        self, key: str, node_id: str, resume_at: datetime | None
    ) -> tuple[dict[str, Any], str | None]:
        """The next decision for ``key`` (or its node id) and its ticket;
        ``{"timeout": true}`` at ``resume_at``."""

        def ready() -> bool:
            return bool(self.decisions.get(key) or self.decisions.get(node_id))

        timeout = None
        if resume_at is not None:
            timeout = max((resume_at - workflow.now()).total_seconds(), 0.0)
        self.waiting.append(key)
        try:
            if not ready():
                if timeout == 0.0:
                    return {"timeout": True}, None
                await workflow.wait_condition(ready, timeout=timeout)
        except TimeoutError:
            return {"timeout": True}, None
        finally:
            self.waiting.remove(key)
        queue = self.decisions.get(key) or self.decisions[node_id]
        return queue.pop(0)


class _TemporalWalk(NodeWalker):
    """The node walk inside the workflow: time and ids from Temporal, steps as activities."""

    def __init__(self, owner: ExecutionWorkflow, inp: ExecutionInput) -> None:
        super().__init__(
            load_workflow(inp.workflow),
            execution_id=inp.execution_id,
            started_at=datetime.fromisoformat(inp.started_at),
            test_run=inp.test_run,
            trigger_data=inp.trigger_data,
            until_step=inp.until_step,
            env=inp.env,
            extra_scope={"now": workflow.now, "uuid": lambda: str(workflow.uuid4())},
        )
        self.owner = owner
        self.inp = inp
        self.mock = inp.mock_data or {}
        self.local = frozenset(inp.local)
        self.top_level = {n.id for n in self.workflow.nodes}
        top = self.workflow.nodes
        self.last_id = top[-1].id if top and top[-1].type == "single" else None
        self.status_written = False

    def now(self) -> datetime:
        return workflow.now()

    async def save(self, step: StepRecord) -> None:
        self.steps[step.key] = step
        await workflow.execute_local_activity_method(
            StepActivities.save_step,
            args=[self.inp.execution_id, step.model_dump(mode="json")],
            start_to_close_timeout=_LOCAL,
            retry_policy=_STORE_RETRY,
        )

    async def single(self, node: Node, key: str) -> None:
        assert node.app is not None and node.action is not None
        inp = self.inp
        spec = inp.retry.get(node.id) or RetrySpec()
        step = StepInput(
            execution_id=inp.execution_id,
            organization_id=inp.organization_id,
            test_run=inp.test_run,
            flow_id=self.workflow.id,
            flow_name=self.workflow.name,
            flow_version=self.workflow.version,
            node_id=node.id,
            key=key,
            app=node.app,
            action=node.action,
            connection=node.connection,
            params=compute_parameters(node.parameters, self.scope),
            started_at=self.now().isoformat(),
            max_attempts=spec.attempts,
            top_level=node.id in self.top_level,
            last=node.id == self.last_id
            or (node.id == self.until_step and node.id in self.top_level),
            continue_on_error=node.continue_on_error,
            final_status=True,
        )
        if node.id in self.mock:
            step.mocked, step.mock_output = True, _as_output(self.mock[node.id])
        outcome = await self.activity(step, spec, local=node.id in self.local)
        resume_at: datetime | None = None
        while outcome.status in ("waiting", "invalid"):
            if outcome.status == "waiting":
                resume_at = datetime.fromisoformat(outcome.resume_at) if outcome.resume_at else None
            step.resume_payload, ticket = await self.owner.decision(key, node.id, resume_at)
            outcome = await self.activity(step, spec)
            if ticket is not None:
                self.owner.answers[ticket] = {"status": outcome.status, "error": outcome.error}
        self.status_written = outcome.status_written
        if outcome.status == "failed" and not node.continue_on_error:
            raise WalkFailed(f"node {node.id!r} failed: {outcome.error}")
        self.outputs[node.id] = outcome.data_out
        if outcome.ends_execution:
            raise WalkEnded

    async def activity(self, step: StepInput, spec: RetrySpec, local: bool = False) -> StepOutcome:
        if local:
            return await workflow.execute_local_activity_method(
                StepActivities.run_step,
                step,
                start_to_close_timeout=timedelta(seconds=min(self.inp.activity_timeout, 60.0)),
                retry_policy=temporal_retry_policy(spec),
            )
        return await workflow.execute_activity_method(
            StepActivities.run_step,
            step,
            start_to_close_timeout=timedelta(seconds=self.inp.activity_timeout),
            heartbeat_timeout=timedelta(seconds=self.inp.heartbeat_timeout),
            retry_policy=temporal_retry_policy(spec),
        )


def _as_output(value: Any) -> dict[str, Any]:
    """A mock as ``{"raw", "data", "metadata"}`` (as the inline engine reads it)."""
    if isinstance(value, dict) and "data" in value and set(value) <= {"raw", "data", "metadata"}:
        return {
            "raw": value.get("raw"),
            "data": value["data"],
            "metadata": value.get("metadata") or {},
        }
    return {"raw": value, "data": value, "metadata": {}}
