"""The activities: one per step, plus the store writes the workflow asks for.

An activity writes the step's record (``data_in``, ``data_out``, status) to the engine's
:class:`~docg_core.store.ExecutionStore`, keyed by execution id + step key, so a retried or
repeated activity replaces the record instead of adding one, and the API shows the same run
history as with the inline runner. Long actions heartbeat while they run.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from pydantic_core import to_jsonable_python
from temporalio import activity
from temporalio.exceptions import ApplicationError

from ..._http import http_factory
from ..._masking import mask_secrets
from ...apps import ActionResult, validate_arguments
from ...context import AppInfo, ExecutionInfo, FlowInfo, StepInfo, build_context
from ...engine import Engine
from ...errors import DocgError, ExecutionNotFound, StepError, ValidationError
from ...records import ExecutionRecord, StepRecord, WaitRecord, utcnow
from ...retry import classify_error
from ...workflow import load_workflow
from ._local import status_board
from ._messages import (
    DEFAULT_PAYLOAD_LIMIT,
    ExecutionInput,
    PayloadTooLarge,
    StatusUpdate,
    StepInput,
    StepOutcome,
    check_size,
)
from ._retry import RETRYABLE

__all__ = ["StepActivities"]


class StepActivities:
    """The activities of one worker, bound to its engine (store, registry, storage, connections).

    :param heartbeat_every: seconds between heartbeats while an action runs.
    :param payload_limit: bytes a step's output may take in Temporal history.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        heartbeat_every: float = 10.0,
        payload_limit: int = DEFAULT_PAYLOAD_LIMIT,
    ) -> None:
        self.engine = engine
        self.heartbeat_every = heartbeat_every
        self.payload_limit = payload_limit
        status_board(engine.store).add_worker(self)

    def all(self) -> list[Any]:
        """Every activity, for the worker."""
        return [self.run_step, self.save_step, self.set_status, self.prepare_scheduled]

    @activity.defn(name="docg.run_step")
    async def run_step(self, inp: StepInput) -> StepOutcome:
        """Run (or resume, with ``resume_payload``) one single node and record its step."""
        return await _StepActivity(self, inp).run()

    @activity.defn(name="docg.save_step")
    async def save_step(self, execution_id: str, step: dict[str, Any]) -> None:
        """Write a step record the workflow produced itself (branch choices, loops)."""
        record = StepRecord.model_validate(step)
        await self.engine.store.save_step(execution_id, record)
        await _observe(self.engine, ExecutionRecord(id=execution_id), record)

    @activity.defn(name="docg.set_status")
    async def set_status(self, update: StatusUpdate) -> None:
        """Write the execution's status; a cancelled execution stays cancelled."""
        store = self.engine.store
        execution = await store.get_execution(update.execution_id)
        if execution.status == update.status or (
            execution.status == "cancelled" and update.status != "cancelled"
        ):
            return
        execution.status = update.status  # type: ignore[assignment]
        execution.error = update.error
        execution.completed_at = utcnow() if execution.finished else None
        await store.update_execution(execution)
        status_board(store).changed(update.execution_id)  # a wait in this process

    @activity.defn(name="docg.prepare_scheduled")
    async def prepare_scheduled(self, inp: ExecutionInput) -> ExecutionInput:
        """Create the execution a Temporal Schedule started (runs the trigger once)."""
        try:
            execution = await self.engine.store.get_execution(inp.execution_id)
        except ExecutionNotFound:
            execution = await self.engine.prepare(
                load_workflow(inp.workflow),
                inp.trigger_data,
                execution_id=inp.execution_id,
                organization_id=inp.organization_id,
            )
        from .runner import execution_input  # the runner builds the same input

        return execution_input(self.engine, execution, inp.activity_timeout, inp.heartbeat_timeout)


async def _observe(engine: Engine, execution: ExecutionRecord, step: StepRecord) -> None:
    if engine.on_step is not None:
        result: Any = engine.on_step(execution, step)
        if inspect.isawaitable(result):
            await result


class _StepActivity:
    """One attempt of one step inside an activity."""

    def __init__(self, owner: StepActivities, inp: StepInput) -> None:
        self.owner = owner
        self.engine = owner.engine
        self.inp = inp
        self.attempt = activity.info().attempt
        self.execution = ExecutionRecord(
            id=inp.execution_id,
            flow_id=inp.flow_id,
            flow_name=inp.flow_name,
            organization_id=inp.organization_id,
            test_run=inp.test_run,
        )
        self.step = StepRecord(
            key=inp.key,
            node_id=inp.node_id,
            app=inp.app,
            action=inp.action,
            status="running",
            attempt=self.attempt,
            started_at=datetime.fromisoformat(inp.started_at),
        )
        self.previous: StepRecord | None = None

    async def stored_step(self) -> StepRecord | None:
        try:
            execution = await self.engine.store.get_execution(self.inp.execution_id)
        except ExecutionNotFound:
            return None
        return execution.step(self.inp.key)

    async def save(self, step: StepRecord) -> None:
        await self.engine.store.save_step(self.inp.execution_id, step)
        await _observe(self.engine, self.execution, step)

    async def run(self) -> StepOutcome:
        inp, engine, step = self.inp, self.engine, self.step
        resuming = inp.resume_payload is not None
        if inp.mocked:
            return await self.mocked()
        if resuming:
            # Taken here unless the API took it already (a timeout, a direct signal).
            await engine.store.claim_waiting_step(inp.execution_id, inp.key)
            self.previous = await self.stored_step()
            if self.previous is not None:
                step = self.step = self.previous.model_copy(
                    update={"status": "running", "error": None, "error_code": None}
                )
        try:
            app = engine.registry.app(inp.app)
            action_cls = engine.registry.action(inp.app, inp.action)
            auth = await self.credentials()
            step.data_in = mask_secrets(
                to_jsonable_python(inp.params), action_cls.arguments, app, auth
            )
            if not resuming and not activity.info().is_local:
                await self.save(step)  # a quick (local) step is recorded once, when done
            params = validate_arguments(action_cls.arguments, inp.params, node_id=inp.node_id)
            if not resuming and self.attempt == 1 and engine.before_action is not None:
                await engine.before_action(self.execution, step)
        except StepError as exc:
            return await self.fail(exc)
        except DocgError as exc:
            return await self.fail(StepError(str(exc)))
        ctx = build_context(
            store=engine.store,
            app=AppInfo(app.key, app.name),
            flow=FlowInfo(inp.flow_id, inp.flow_name, inp.flow_version),
            step=StepInfo(
                id=inp.node_id,
                key=inp.key,
                app=app.key,
                action=action_cls.key,
                parameters=params,
                idempotency_key=f"{inp.execution_id}:{inp.key}",
                attempt=step.attempt,
            ),
            execution=ExecutionInfo(inp.execution_id, inp.test_run, inp.organization_id),
            auth=auth,
            storage=engine.storage,
            template_filters=engine.registry.template_filters,
            http_factory=http_factory(app, transport=engine.http_transport),
            credentials_refresher=engine.credentials_refresher(
                inp.connection, app_key=app.key, organization_id=inp.organization_id
            ),
        )
        heartbeat = None if activity.info().is_local else asyncio.create_task(self.heartbeat())
        try:
            if inp.resume_payload is not None:
                result = await action_cls().resume(ctx, inp.resume_payload)
            else:
                result = await action_cls().run(ctx)
            if not isinstance(result, ActionResult):
                raise StepError(
                    f"action {app.key}/{action_cls.key} returned "
                    f"{type(result).__name__}, not an ActionResult"
                )
        except ValidationError as exc:
            if resuming:
                return await self.reject_payload(exc)
            error = StepError(str(exc), code="invalid")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = classify_error(exc)
        else:
            return await self.record(result)
        finally:
            if heartbeat is not None:
                heartbeat.cancel()
            await ctx.aclose()
        if error.retryable and self.attempt < inp.max_attempts:
            step.error, step.error_code = f"attempt {self.attempt}: {error}", error.code
            await self.save(step)
            retry_after = getattr(error, "retry_after", None)
            raise ApplicationError(
                error.message,
                type=RETRYABLE,
                next_retry_delay=timedelta(seconds=retry_after) if retry_after else None,
            )
        return await self.fail(error)

    async def credentials(self) -> Mapping[str, Any]:
        if self.inp.connection is None:
            return {}
        try:
            return await self.engine.connections.get_credentials(
                self.inp.connection, app_key=self.inp.app, organization_id=self.inp.organization_id
            )
        except KeyError:
            raise StepError(f"connection {self.inp.connection!r} not found") from None

    async def heartbeat(self) -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(self.owner.heartbeat_every)

    async def mocked(self) -> StepOutcome:
        inp, step = self.inp, self.step
        params = to_jsonable_python(inp.params)
        registry = self.engine.registry
        if inp.app in registry and registry.app(inp.app).action(inp.action):
            arguments = registry.action(inp.app, inp.action).arguments
            params = mask_secrets(params, arguments, registry.app(inp.app), {})
        step.status, step.attempt = "success", 1
        step.data_in, step.data_out = params, to_jsonable_python(inp.mock_output)
        step.completed_at = step.started_at
        return await self.finish(StepOutcome("success", data_out=step.data_out))

    async def record(self, result: ActionResult) -> StepOutcome:
        step = self.step
        step.data_out = to_jsonable_python(result.to_output())
        step.error, step.error_code = None, None
        if result.waiting is not None:
            w = result.waiting
            step.status = "waiting"
            step.wait = WaitRecord(
                reason=w.reason,
                resume_token=w.resume_token,
                resume_at=w.resume_at,
                expires_at=w.expires_at,
            )
            resume_at = w.resume_at.isoformat() if w.resume_at else None
            outcome = StepOutcome("waiting", data_out=step.data_out, resume_at=resume_at)
            return await self.finish(outcome, execution_status="waiting")
        step.status, step.wait, step.completed_at = "success", None, utcnow()
        outcome = StepOutcome(
            "success", data_out=step.data_out, ends_execution=result.ends_execution
        )
        return await self.finish(outcome)

    async def finish(
        self, outcome: StepOutcome, execution_status: str | None = None
    ) -> StepOutcome:
        try:
            check_size(
                outcome.data_out, self.owner.payload_limit, f"the output of step {self.inp.key!r}"
            )
        except PayloadTooLarge as exc:
            return await self.fail(StepError(str(exc), code="payload_too_large"))
        await self.save(self.step)
        inp = self.inp
        ends = inp.last or (outcome.ends_execution and inp.top_level)
        if execution_status is None and outcome.status == "success" and ends and inp.final_status:
            execution_status, outcome.status_written = "completed", True
        if execution_status is not None:
            await self.owner.set_status(StatusUpdate(inp.execution_id, execution_status))
        return outcome

    async def fail(self, error: StepError) -> StepOutcome:
        step = self.step
        step.status, step.error, step.error_code = "failed", error.message, error.code
        step.data_out = {
            "raw": None,
            "data": to_jsonable_python(error.details),
            "metadata": {"error": error.message, "error_code": error.code},
        }
        step.completed_at = utcnow()
        await self.save(step)
        outcome = StepOutcome("failed", data_out=step.data_out, error=error.message)
        if self.inp.final_status and not self.inp.continue_on_error:
            # the message the workflow's walk fails with
            message = f"node {self.inp.node_id!r} failed: {error.message}"
            await self.owner.set_status(StatusUpdate(self.inp.execution_id, "failed", message))
            outcome.status_written = True
        return outcome

    async def reject_payload(self, error: ValidationError) -> StepOutcome:
        """A resume payload the action refused: the step goes back to waiting."""
        if self.previous is not None:
            await self.save(self.previous.model_copy(update={"status": "waiting"}))
        await self.owner.set_status(StatusUpdate(self.inp.execution_id, "waiting"))
        return StepOutcome("invalid", error=str(error))
