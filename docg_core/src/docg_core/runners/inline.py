"""The inline runner: executions run as tasks of the current event loop.

State lives in the engine's :class:`~docg_core.store.ExecutionStore`, so with a durable store
(:class:`~docg_core.sqlstore.SQLStore`, the server's database) a waiting execution can be
resumed by any process. :meth:`InlineRunner.tick` resumes waits whose time has come (delays,
approval expiry, polling fallbacks); :meth:`InlineRunner.run_timers` calls it periodically.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Mapping
from datetime import datetime
from typing import Any

from ..engine import Engine
from ..errors import ExecutionNotFound
from ..records import ExecutionRecord
from ..workflow import Workflow

__all__ = ["InlineRunner"]

logger = logging.getLogger("docg.runner")


class InlineRunner:
    """A :class:`~docg_core.runners.Runner` running executions in this process.

    :param engine: the engine (with its store, registry and storage) that runs the nodes.
    :param grace_period: seconds :meth:`aclose` lets in-flight executions finish before it
        cancels them.
    """

    def __init__(self, engine: Engine, *, grace_period: float = 30.0) -> None:
        self.engine = engine
        self.grace_period = grace_period
        self._tasks: dict[str, asyncio.Task[Any]] = {}

    async def start(
        self,
        workflow: Workflow,
        trigger_data: Mapping[str, Any] | None = None,
        *,
        execution_id: str | None = None,
        organization_id: str | None = None,
        until_step: str | None = None,
        mock_data: Mapping[str, Any] | None = None,
        test_run: bool | None = None,
    ) -> ExecutionRecord:
        """See :meth:`Runner.start`."""
        if execution_id is not None:
            try:
                return await self.engine.store.get_execution(execution_id)
            except ExecutionNotFound:
                pass
        execution = await self.engine.prepare(
            workflow,
            trigger_data,
            execution_id=execution_id,
            organization_id=organization_id,
            until_step=until_step,
            mock_data=mock_data,
            test_run=test_run,
        )
        started = execution.model_copy(deep=True)
        self._spawn(execution.id, self.engine.execute(execution, workflow))
        return started

    async def resume(
        self, execution_id: str, node_id: str, payload: Mapping[str, Any] | None = None
    ) -> ExecutionRecord:
        """See :meth:`Runner.resume`; the claim happens before this returns."""
        execution, key = await self.engine.claim(execution_id, node_id)
        claimed = execution.model_copy(deep=True)
        self._spawn(execution_id, self.engine.continue_claimed(execution, key, payload))
        return claimed

    async def cancel(self, execution_id: str) -> ExecutionRecord:
        """See :meth:`Runner.cancel`."""
        return await self.engine.cancel(execution_id)

    async def wait(self, execution_id: str, timeout: float | None = None) -> ExecutionRecord:  # noqa: ASYNC109 - returns the state at the deadline, never raises
        """See :meth:`Runner.wait`."""
        task = self._tasks.get(execution_id)
        if task is not None:
            await asyncio.wait({task}, timeout=timeout)
        return await self.engine.store.get_execution(execution_id)

    async def tick(self, now: datetime | None = None) -> list[ExecutionRecord]:
        """Resume every wait whose ``resume_at`` has passed; the executions resumed."""
        return await self.engine.resume_due(now)

    async def run_timers(self, interval: float = 5.0) -> None:
        """Call :meth:`tick` every ``interval`` seconds until cancelled; errors are logged."""
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("resuming due waits failed; trying again in %.0fs", interval)
            await asyncio.sleep(interval)

    @property
    def in_flight(self) -> int:
        """Executions this runner is driving right now."""
        return len(self._tasks)

    async def aclose(self) -> None:
        """Let in-flight executions finish for up to ``grace_period`` seconds, then cancel
        the rest (they are recorded as cancelled)."""
        tasks = list(self._tasks.values())
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=self.grace_period)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)

    def _spawn(self, execution_id: str, work: Coroutine[Any, Any, ExecutionRecord]) -> None:
        task = asyncio.get_running_loop().create_task(work, name=f"docg-execution-{execution_id}")
        self._tasks[execution_id] = task
        task.add_done_callback(lambda done: self._finished(execution_id, done))

    def _finished(self, execution_id: str, task: asyncio.Task[Any]) -> None:
        if self._tasks.get(execution_id) is task:
            del self._tasks[execution_id]
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            # The engine has recorded the execution as failed; make the cause visible.
            logger.error(
                "execution %s stopped on an internal error",
                execution_id,
                exc_info=(type(error), error, error.__traceback__),
            )
