"""Recorded histories replay with the current workflow code: engine changes must not break
executions in flight (change behaviour behind ``workflow.patched`` instead)."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

from docg_core.runners.temporal import ExecutionWorkflow, sandbox_runner

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_there_are_histories_to_replay() -> None:
    assert HISTORIES, "record them with tests/temporal/record_histories.py"


def test_the_local_steps_history_has_local_and_regular_activities() -> None:
    text = (Path(__file__).parent / "histories" / "local-steps.json").read_text()
    assert "MARKER_RECORDED" in text and "ACTIVITY_TASK_SCHEDULED" in text


@pytest.mark.parametrize("sandboxed", [True, False], ids=["sandboxed", "unsandboxed"])
@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_a_recorded_history_replays(path: Path, sandboxed: bool) -> None:
    history = WorkflowHistory.from_json(f"history-{path.stem}", path.read_text())
    result = await Replayer(
        workflows=[ExecutionWorkflow],
        workflow_runner=sandbox_runner() if sandboxed else UnsandboxedWorkflowRunner(),
    ).replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
