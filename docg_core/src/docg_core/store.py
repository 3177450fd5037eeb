"""Where executions, steps and the per-flow datastore live.

:class:`ExecutionStore` is the protocol the engine talks to; :class:`InMemoryStore` is the
default. ``docg_core.sqlstore.SQLStore`` keeps the same data in SQLite or PostgreSQL so a
waiting execution can be resumed by another process.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from .errors import ExecutionError, ExecutionNotFound
from .records import ExecutionRecord, StepRecord

__all__ = ["DueWait", "ExecutionStore", "InMemoryStore"]

DueWait = tuple[str, str]
"""(execution id, step key) of a waiting step whose ``resume_at`` has passed."""


@runtime_checkable
class ExecutionStore(Protocol):
    """Persistence for the engine. Every method is safe to call concurrently."""

    async def create_execution(self, execution: ExecutionRecord) -> None:
        """Insert a new execution (with any steps it already has)."""
        ...

    async def get_execution(self, execution_id: str) -> ExecutionRecord:
        """The execution with its steps in order; raises :class:`ExecutionNotFound`."""
        ...

    async def update_execution(self, execution: ExecutionRecord) -> None:
        """Write the execution's own fields (status, error, completed_at), not its steps."""
        ...

    async def save_step(self, execution_id: str, step: StepRecord) -> None:
        """Insert or replace the step with ``step.key``; steps keep their first-saved order."""
        ...

    async def list_executions(
        self, *, flow_id: str | None = None, status: str | None = None, limit: int = 50
    ) -> list[ExecutionRecord]:
        """Newest first, optionally filtered by flow and status."""
        ...

    async def claim_waiting_step(self, execution_id: str, step_key: str) -> bool:
        """Atomically move a waiting step to ``running`` (and its execution from ``waiting`` to
        ``running``). True for exactly one caller; False if it was not waiting."""
        ...

    async def due_waits(self, now: datetime) -> list[DueWait]:
        """Waiting steps of waiting executions whose ``resume_at`` is at or before ``now``."""
        ...

    async def claim_dedupe_key(self, scope: str, key: str) -> bool:
        """Record ``key`` under ``scope``; True the first time only (polling dedupe)."""
        ...

    async def datastore_get(self, scope: str, key: str) -> Any:
        """The value stored under ``key`` for ``scope`` (a flow), or None."""
        ...

    async def datastore_set(self, scope: str, key: str, value: Any) -> None:
        """Store a JSON-serialisable value."""
        ...

    async def datastore_delete(self, scope: str, key: str) -> None:
        """Remove ``key`` (no error if absent)."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class InMemoryStore:
    """Keeps everything in this process's memory: the default for embedding and tests."""

    def __init__(self) -> None:
        self._executions: dict[str, ExecutionRecord] = {}
        self._steps: dict[str, dict[str, StepRecord]] = {}
        self._dedupe: set[tuple[str, str]] = set()
        self._data: dict[tuple[str, str], Any] = {}

    async def create_execution(self, execution: ExecutionRecord) -> None:
        if execution.id in self._executions:
            raise ExecutionError(f"execution {execution.id!r} already exists")
        self._executions[execution.id] = execution.model_copy(update={"steps": []})
        self._steps[execution.id] = {s.key: s.model_copy() for s in execution.steps}

    async def get_execution(self, execution_id: str) -> ExecutionRecord:
        try:
            execution = self._executions[execution_id]
        except KeyError:
            raise ExecutionNotFound(f"no execution {execution_id!r}") from None
        steps = [s.model_copy(deep=True) for s in self._steps[execution_id].values()]
        return execution.model_copy(update={"steps": steps}, deep=True)

    async def update_execution(self, execution: ExecutionRecord) -> None:
        if execution.id not in self._executions:
            raise ExecutionNotFound(f"no execution {execution.id!r}")
        self._executions[execution.id] = execution.model_copy(update={"steps": []})

    async def save_step(self, execution_id: str, step: StepRecord) -> None:
        if execution_id not in self._steps:
            raise ExecutionNotFound(f"no execution {execution_id!r}")
        self._steps[execution_id][step.key] = step.model_copy()

    async def list_executions(
        self, *, flow_id: str | None = None, status: str | None = None, limit: int = 50
    ) -> list[ExecutionRecord]:
        found = [
            e
            for e in reversed(self._executions.values())
            if (flow_id is None or e.flow_id == flow_id) and (status is None or e.status == status)
        ]
        return [await self.get_execution(e.id) for e in found[: max(limit, 0)]]

    async def claim_waiting_step(self, execution_id: str, step_key: str) -> bool:
        execution = self._executions.get(execution_id)
        step = self._steps.get(execution_id, {}).get(step_key)
        if execution is None or step is None:
            return False
        if step.status != "waiting" or execution.status != "waiting":
            return False
        self._steps[execution_id][step_key] = step.model_copy(update={"status": "running"})
        self._executions[execution_id] = execution.model_copy(update={"status": "running"})
        return True

    async def due_waits(self, now: datetime) -> list[DueWait]:
        return [
            (eid, step.key)
            for eid, execution in self._executions.items()
            if execution.status == "waiting"
            for step in self._steps[eid].values()
            if step.status == "waiting"
            and step.wait is not None
            and step.wait.resume_at is not None
            and step.wait.resume_at <= now
        ]

    async def claim_dedupe_key(self, scope: str, key: str) -> bool:
        if (scope, key) in self._dedupe:
            return False
        self._dedupe.add((scope, key))
        return True

    async def datastore_get(self, scope: str, key: str) -> Any:
        return self._data.get((scope, key))

    async def datastore_set(self, scope: str, key: str, value: Any) -> None:
        self._data[(scope, key)] = value

    async def datastore_delete(self, scope: str, key: str) -> None:
        self._data.pop((scope, key), None)

    async def close(self) -> None:
        return None
