"""Execution and step records: what a run did, as stored and as returned to callers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ExecutionRecord",
    "ExecutionStatus",
    "StepRecord",
    "StepStatus",
    "WaitRecord",
    "utcnow",
]

ExecutionStatus = Literal["running", "waiting", "completed", "failed", "cancelled"]
StepStatus = Literal["pending", "running", "success", "failed", "skipped", "waiting"]

FINISHED: frozenset[str] = frozenset({"completed", "failed", "cancelled"})


def utcnow() -> datetime:
    return datetime.now(UTC)


class WaitRecord(BaseModel):
    """Why a step waits, the token that resumes it, and when it resumes or expires by itself."""

    reason: str
    resume_token: str | None = None
    resume_at: datetime | None = None
    expires_at: datetime | None = None


class StepRecord(BaseModel):
    """One node's run. ``key`` is unique within the execution: the node id, plus the loop
    iteration (``gen[2]``) for nodes inside a loop."""

    model_config = ConfigDict(validate_assignment=False)

    key: str
    node_id: str
    app: str | None = None
    action: str | None = None
    status: StepStatus = "pending"
    data_in: dict[str, Any] | None = None
    data_out: dict[str, Any] | None = None
    error: str | None = None
    error_code: str | None = None
    attempt: int = 0
    started_at: datetime | None = None
    completed_at: datetime | None = None
    wait: WaitRecord | None = None

    def to_public(self) -> dict[str, Any]:
        """JSON-safe dict (what ``docg run --json`` prints for a step)."""
        return self.model_dump(mode="json")


class ExecutionRecord(BaseModel):
    """One execution of a workflow: status, the workflow snapshot it runs, and its steps."""

    id: str
    flow_id: str | None = None
    flow_name: str = ""
    organization_id: str | None = None
    workflow: dict[str, Any] = Field(default_factory=dict)
    status: ExecutionStatus = "running"
    trigger_data: Any = None
    test_run: bool = False
    until_step: str | None = None
    mock_data: dict[str, Any] | None = None
    error: str | None = None
    started_at: datetime = Field(default_factory=utcnow)
    completed_at: datetime | None = None
    steps: list[StepRecord] = Field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def step(self, key: str) -> StepRecord | None:
        """The step with this key (a node id, or ``node[i]`` inside a loop)."""
        return next((s for s in self.steps if s.key == key), None)

    def to_public(self) -> dict[str, Any]:
        """JSON-safe dict without the workflow snapshot."""
        return self.model_dump(mode="json", exclude={"workflow"})
