"""Reading a run's state from the store and turning what changed into events.

One read is two short queries on the server's database, run on a worker thread: the run's
own row first, then only the steps a client may not have seen (at or after the cursor's
position, or still open). The run's row comes first so that a run read as finished is
never sent before its last step: the engine writes every step before the run's status.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pydantic_core
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from docg_core.records import ExecutionRecord

from ..api.v1.runs_models import RunSummary, RunWait, approval_url, run_summary
from ..models.engine import executions, steps
from .cursor import STEP_FINAL, Cursor
from .models import SMALL_DATA_BYTES, SnapshotEvent, StepEvent

__all__ = ["RunEvent", "RunGone", "RunReader"]

_RUN_COLUMNS = ("id", "flow_id", "status", "test_run", "error", "started_at", "completed_at")
_STEP_COLUMNS = (
    "position",
    "key",
    "node_id",
    "app",
    "action",
    "status",
    "attempt",
    "started_at",
    "completed_at",
    "error",
    "error_code",
    "wait_reason",
    "wait_resume_token",
    "wait_resume_at",
    "wait_expires_at",
    "data_out",
)


@dataclass(frozen=True)
class RunEvent:
    """One server-sent event: its id (a :class:`Cursor`), name and JSON data."""

    id: str
    event: str
    data: str


class RunGone(Exception):
    """The run's row is no longer in the store (its workflow was deleted)."""


def _duration_ms(started: datetime | None, completed: datetime | None) -> int | None:
    if started is None or completed is None:
        return None
    return max(0, round((completed - started).total_seconds() * 1000))


def _json(model: Any) -> str:
    return pydantic_core.to_json(model, inf_nan_mode="null").decode()


class RunReader:
    """Reads one run's changes since a :class:`Cursor`.

    :param base_url: where public links (an approval's page) point.
    """

    def __init__(
        self, session_factory: sessionmaker[Session], execution_id: str, base_url: str
    ) -> None:
        self.session_factory = session_factory
        self.execution_id = execution_id
        self.base_url = base_url

    async def snapshot(self) -> tuple[Cursor, RunEvent]:
        """The run and every step so far, as one ``snapshot`` event."""
        run, rows = await run_in_threadpool(self._read, Cursor(status="running"))
        cursor = Cursor(status=run.status)
        step_events = []
        for row in rows:
            event = self._step_event(row)
            step_events.append(event)
            self._advance(cursor, row["position"], event)
        payload = SnapshotEvent(run=run, steps=step_events)
        return cursor, RunEvent(cursor.format(), "snapshot", _json(payload.model_dump(mode="json")))

    async def changes(self, cursor: Cursor) -> list[RunEvent]:
        """The events after ``cursor``, in order; ``cursor`` is moved past them."""
        run, rows = await run_in_threadpool(self._read, cursor)
        events = []
        for row in rows:
            event = self._step_event(row)
            position = row["position"]
            if position < cursor.seen and cursor.open.get(position) in (None, _digest(event)):
                continue  # finished when last sent (it never changes again), or unchanged
            self._advance(cursor, position, event)
            events.append(RunEvent(cursor.format(), "step", _json(event.model_dump(mode="json"))))
        if run.status != cursor.status:
            cursor.status = run.status
            data = _json(run.model_dump(mode="json"))
            events.append(RunEvent(cursor.format(), "execution", data))
        return events

    @staticmethod
    def _advance(cursor: Cursor, position: int, event: StepEvent) -> None:
        if event.status in STEP_FINAL:
            cursor.open.pop(position, None)
        else:
            cursor.open[position] = _digest(event)
        cursor.seen = max(cursor.seen, position + 1)

    def _read(self, cursor: Cursor) -> tuple[RunSummary, list[dict[str, Any]]]:
        columns = [executions.c[name] for name in _RUN_COLUMNS]
        step_columns = [steps.c[name] for name in _STEP_COLUMNS]
        wanted = steps.c.position >= cursor.seen
        if cursor.open:
            wanted = wanted | steps.c.position.in_(list(cursor.open))
        with self.session_factory() as session:
            row = session.execute(
                sa.select(*columns).where(executions.c.id == self.execution_id)
            ).first()
            if row is None:
                raise RunGone(self.execution_id)
            step_rows = session.execute(
                sa.select(*step_columns)
                .where(steps.c.execution_id == self.execution_id, wanted)
                .order_by(steps.c.position, steps.c.id)
            ).all()
        record = ExecutionRecord.model_validate(dict(zip(_RUN_COLUMNS, row, strict=True)))
        return run_summary(record), [dict(r._mapping) for r in step_rows]

    def _step_event(self, row: dict[str, Any]) -> StepEvent:
        wait = None
        if row["status"] == "waiting" and row["wait_reason"] is not None:
            token = row["wait_resume_token"]
            wait = RunWait(
                reason=row["wait_reason"],
                resume_at=row["wait_resume_at"],
                expires_at=row["wait_expires_at"],
                approval_url=(
                    approval_url(self.base_url, token)
                    if row["wait_reason"] == "approval" and token
                    else None
                ),
            )
        data, omitted = _small_data(row["data_out"])
        return StepEvent(
            key=row["key"],
            node_id=row["node_id"],
            app=row["app"],
            action=row["action"],
            status=row["status"],
            attempt=row["attempt"],
            started_at=row["started_at"],
            completed_at=row["completed_at"],
            duration_ms=_duration_ms(row["started_at"], row["completed_at"]),
            error=row["error"],
            error_code=row["error_code"],
            wait=wait,
            data=data,
            data_omitted=omitted,
        )


def _small_data(data_out: Any) -> tuple[Any, bool]:
    if not isinstance(data_out, dict) or data_out.get("data") is None:
        return None, False
    data = data_out["data"]
    if len(pydantic_core.to_json(data, inf_nan_mode="null")) > SMALL_DATA_BYTES:
        return None, True
    return data, False


def _digest(event: StepEvent) -> str:
    """8 hex digits of what was sent for a step: a change gives another digest."""
    return hashlib.blake2b(event.model_dump_json().encode(), digest_size=4).hexdigest()
