"""One Temporal dev server per test session (the ``temporal`` CLI on PATH, never downloaded);
an engine, a worker and a runner per test, each test on its own task queue."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from support.apps import TestPlugin
from support.requirements import missing
from temporal.apps import RUNS, TemporalTestPlugin
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from docg_core.engine import Engine
from docg_core.plugins import get_registry
from docg_core.runners.temporal import TemporalOptions, TemporalRunner, create_worker
from docg_core.storage import LocalStorage


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    path = shutil.which("temporal")
    if path is None:
        missing("the temporal CLI is not installed")
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=path,
        dev_server_log_level="error",
        dev_server_extra_args=[
            "--dynamic-config-value",
            "frontend.enableUpdateWorkflowExecution=true",
        ],
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
def client(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client


@pytest.fixture
def task_queue() -> str:
    return f"docg-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    RUNS.clear()
    return Engine(
        registry=get_registry(extra=[TestPlugin(), TemporalTestPlugin()]),
        storage=LocalStorage(tmp_path / "files"),
        env_allowlist=(),
    )


OPTIONS = TemporalOptions(activity_timeout=30, heartbeat_timeout=5)


@pytest.fixture
def runner(engine: Engine, client: Client, task_queue: str) -> TemporalRunner:
    return TemporalRunner(
        engine, client, task_queue=task_queue, options=OPTIONS, poll_interval=0.02
    )


def make_worker(client: Client, engine: Engine, task_queue: str) -> Worker:
    return create_worker(
        client, engine, task_queue=task_queue, heartbeat_every=1.0, graceful_shutdown=2.0
    )


@pytest_asyncio.fixture(loop_scope="session")
async def worker(client: Client, engine: Engine, task_queue: str) -> AsyncIterator[Worker]:
    async with make_worker(client, engine, task_queue) as running:
        yield running
