"""The shapes of runs (executions) in the API: summaries, details with every step."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from docg_core.records import ExecutionRecord, StepRecord

__all__ = [
    "RunIn",
    "RunOut",
    "RunPage",
    "RunStep",
    "RunSummary",
    "RunWait",
    "TestRunIn",
    "run_out",
    "run_summary",
]

RunStatus = Literal["running", "waiting", "completed", "failed", "cancelled"]


def _duration_ms(started: datetime | None, completed: datetime | None) -> int | None:
    if started is None or completed is None:
        return None
    return max(0, round((completed - started).total_seconds() * 1000))


class RunIn(BaseModel):
    """Start a run by hand: ``data`` is the trigger data (``{{trigger.*}}``)."""

    model_config = ConfigDict(extra="forbid")

    data: dict[str, Any] = Field(default_factory=dict)


class TestRunIn(RunIn):
    """A test run: stop after ``until_step``; ``mock_data`` replaces nodes' outputs
    (``{node_id: output}``, ``trigger`` for the trigger) so nothing external is called."""

    until_step: str | None = Field(default=None, max_length=200)
    mock_data: dict[str, Any] = Field(default_factory=dict)


class RunSummary(BaseModel):
    id: str
    workflow_id: str | None
    status: RunStatus
    test_run: bool
    error: str | None
    started_at: datetime
    completed_at: datetime | None
    duration_ms: int | None


class RunPage(BaseModel):
    items: list[RunSummary]
    next_cursor: str | None = Field(
        description="Pass as ``cursor`` for the next page; null on the last page."
    )


class RunWait(BaseModel):
    """Why a step waits, and until when."""

    reason: str
    resume_at: datetime | None
    expires_at: datetime | None
    approval_url: str | None = Field(
        description="For an approval: the public page where it is approved or rejected."
    )


class RunStep(BaseModel):
    """One node's run. ``data_in`` holds the resolved parameters with secrets masked."""

    key: str = Field(description="The node id, plus the iteration (``gen[2]``) inside a loop.")
    node_id: str
    app: str | None
    action: str | None
    status: Literal["pending", "running", "success", "failed", "skipped", "waiting"]
    data_in: dict[str, Any] | None
    data_out: dict[str, Any] | None
    error: str | None
    error_code: str | None
    attempt: int
    started_at: datetime | None
    completed_at: datetime | None
    duration_ms: int | None
    wait: RunWait | None


class RunOut(RunSummary):
    """A run with its trigger data and every step in order."""

    trigger_data: Any
    until_step: str | None
    steps: list[RunStep]
    approval_url: str | None = Field(
        description="The public approval page of the step this run waits on, if any."
    )


def approval_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/api/v1/approvals/{token}"


def _step(step: StepRecord, base_url: str) -> RunStep:
    wait = None
    if step.wait is not None and step.status == "waiting":
        url = None
        if step.wait.reason == "approval" and step.wait.resume_token:
            url = approval_url(base_url, step.wait.resume_token)
        wait = RunWait(
            reason=step.wait.reason,
            resume_at=step.wait.resume_at,
            expires_at=step.wait.expires_at,
            approval_url=url,
        )
    return RunStep(
        key=step.key,
        node_id=step.node_id,
        app=step.app,
        action=step.action,
        status=step.status,
        data_in=step.data_in,
        data_out=step.data_out,
        error=step.error,
        error_code=step.error_code,
        attempt=step.attempt,
        started_at=step.started_at,
        completed_at=step.completed_at,
        duration_ms=_duration_ms(step.started_at, step.completed_at),
        wait=wait,
    )


def run_summary(execution: ExecutionRecord) -> RunSummary:
    return RunSummary(
        id=execution.id,
        workflow_id=execution.flow_id,
        status=execution.status,
        test_run=execution.test_run,
        error=execution.error,
        started_at=execution.started_at,
        completed_at=execution.completed_at,
        duration_ms=_duration_ms(execution.started_at, execution.completed_at),
    )


def run_out(execution: ExecutionRecord, base_url: str) -> RunOut:
    steps = [_step(step, base_url) for step in execution.steps]
    waiting = next((s.wait.approval_url for s in steps if s.wait and s.wait.approval_url), None)
    return RunOut(
        **run_summary(execution).model_dump(),
        trigger_data=execution.trigger_data,
        until_step=execution.until_step,
        steps=steps,
        approval_url=waiting,
    )
