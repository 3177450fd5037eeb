"""A worker killed mid-run (SIGKILL): a new worker finishes every execution, and every
document exists exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import pytest
from support.apps import TestPlugin, flow
from temporal.apps import TemporalTestPlugin
from temporalio.testing import WorkflowEnvironment

from docg_core.engine import Engine
from docg_core.plugins import get_registry
from docg_core.runners.temporal import TemporalOptions, TemporalRunner
from docg_core.sqlstore import SQLStore
from docg_core.storage import LocalStorage

pytestmark = [pytest.mark.temporal, pytest.mark.slow, pytest.mark.asyncio(loop_scope="session")]

TESTS = Path(__file__).resolve().parents[1]
EXECUTIONS = 20


async def start_worker(
    address: str, task_queue: str, db: str, files: Path
) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(TESTS / "temporal" / "crash_worker.py"),
        address,
        task_queue,
        db,
        str(files),
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(TESTS), "DOCG_PLUGINS": ""},
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
    assert line.strip() == b"ready", line
    return process


async def test_a_killed_worker_loses_and_duplicates_nothing(
    temporal_env: WorkflowEnvironment, tmp_path: Path, task_queue: str
) -> None:
    db, files = f"sqlite:///{tmp_path / 'docg.db'}", tmp_path / "files"
    address = temporal_env.client.service_client.config.target_host
    store = SQLStore(db)
    engine = Engine(
        registry=get_registry(extra=[TestPlugin(), TemporalTestPlugin()]),
        store=store,
        storage=LocalStorage(files),
        env_allowlist=(),
    )
    runner = TemporalRunner(
        engine,
        temporal_env.client,
        task_queue=task_queue,
        options=TemporalOptions(activity_timeout=30, heartbeat_timeout=2),
    )
    wf = flow(
        {
            "id": "doc",
            "app": "tt",
            "action": "write-document",
            "parameters": {"text": "{{trigger.n}}", "seconds": 1.5},
        },
        {"id": "after", "app": "t", "action": "echo", "parameters": {"value": "{{step.doc.key}}"}},
    )
    first = await start_worker(address, task_queue, db, files)
    try:
        ids = [(await runner.start(wf, {"n": n})).id for n in range(EXECUTIONS)]
        await asyncio.sleep(0.7)  # every document is being written now
        first.send_signal(signal.SIGKILL)
        await first.wait()
        second = await start_worker(address, task_queue, db, files)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                done = [await store.get_execution(i) for i in ids]
                if all(e.finished for e in done):
                    break
                await asyncio.sleep(0.2)
        finally:
            second.send_signal(signal.SIGTERM)
            await asyncio.wait_for(second.wait(), timeout=30)
    finally:
        if first.returncode is None:
            first.kill()
        await store.close()
    assert [e.status for e in done] == ["completed"] * EXECUTIONS
    documents = sorted(p.name for p in (files / "documents").iterdir())
    assert documents == sorted(f"{i}-doc.txt" for i in ids)
    assert {(files / "documents" / f"{i}-doc.txt").read_text() for i in ids} == {
        str(n) for n in range(EXECUTIONS)
    }
    # The kill really hit running steps: they ran again, on the new worker.
    assert any(e.step("doc").attempt > 1 for e in done)  # type: ignore[union-attr]
    assert all(
        e.step("after").data_out["data"]["value"] == f"documents/{e.id}-doc.txt" for e in done
    )  # type: ignore[index,union-attr]
