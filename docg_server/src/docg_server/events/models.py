"""The JSON payloads of run events (``data:`` of each server-sent event)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from ..api.v1.runs_models import RunSummary, RunWait

__all__ = ["SMALL_DATA_BYTES", "SnapshotEvent", "StepEvent"]

SMALL_DATA_BYTES = 2048
"""A step's output ``data`` up to this size (as JSON) travels in its event; larger is left
out (``data_omitted``) — read it from the run's detail."""


class StepEvent(BaseModel):
    """``event: step`` — a step started, was retried, waits, finished, failed or was skipped.

    Never ``data_in``; the output's ``data`` only when small (:data:`SMALL_DATA_BYTES`).
    """

    key: str = Field(description="The node id, plus the iteration (``gen[2]``) inside a loop.")
    node_id: str
    app: str | None
    action: str | None
    status: Literal["pending", "running", "success", "failed", "skipped", "waiting"]
    attempt: int
    started_at: datetime | None
    completed_at: datetime | None
    duration_ms: int | None
    error: str | None
    error_code: str | None
    wait: RunWait | None
    data: Any = Field(description="The step's output ``data`` when small, else null.")
    data_omitted: bool = Field(description="True when the output was too large to include.")


class SnapshotEvent(BaseModel):
    """``event: snapshot`` — the first event of a fresh stream: the run and its steps so far."""

    run: RunSummary
    steps: list[StepEvent]
