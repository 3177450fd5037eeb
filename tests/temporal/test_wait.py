"""How ``TemporalRunner.wait`` learns of a new status: from a worker in the same process at
once, otherwise from the store and the long poll on the workflow's result."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from support.apps import flow
from temporalio.client import Client
from temporalio.worker import Worker

from docg_core.engine import Engine
from docg_core.records import ExecutionRecord
from docg_core.runners.temporal import TemporalRunner
from docg_core.runners.temporal import runner as runner_module
from docg_core.runners.temporal._local import StatusBoard, status_board

session_loop = pytest.mark.asyncio(loop_scope="session")

QUICK = flow(
    {
        "id": "name",
        "app": "formatter",
        "action": "text",
        "parameters": {"transform": "upper", "input": "{{trigger.name}}"},
    },
    {"id": "after", "app": "t", "action": "echo", "parameters": {"value": "{{step.name.output}}"}},
)
APPROVAL = flow(
    {"id": "ok", "app": "approval", "action": "request-approval", "parameters": {"title": "x"}}
)

TIMEOUT = 20.0


async def _timed_wait(runner: TemporalRunner, started: ExecutionRecord) -> ExecutionRecord:
    """``runner.wait`` for ``started``, which must end well before the timeout."""
    begin = time.monotonic()
    execution = await runner.wait(started.id, timeout=TIMEOUT)
    assert time.monotonic() - begin < TIMEOUT / 2, "woken only by the timeout"
    return execution


@pytest.mark.temporal
@session_loop
async def test_a_status_written_by_a_worker_here_wakes_wait(
    runner: TemporalRunner, worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the store is read again only at the timeout: the worker's word ends the wait before
    monkeypatch.setattr(runner_module, "LOCAL_POLL_INTERVAL", 60.0)
    done = await _timed_wait(runner, await runner.start(QUICK, {"name": "acme"}))
    assert done.status == "completed"
    waiting = await _timed_wait(runner, await runner.start(APPROVAL, {}))
    assert waiting.status == "waiting"


@pytest.mark.temporal
@session_loop
async def test_without_a_worker_here_the_long_poll_sees_the_end(
    engine: Engine, client: Client, task_queue: str, worker: Worker
) -> None:
    remote = TemporalRunner(
        engine,
        client,
        task_queue=task_queue,
        poll_interval=60.0,  # the store is read again only at the timeout
        long_poll_after=0.0,
        wake_locally=False,
    )
    done = await _timed_wait(remote, await remote.start(QUICK, {"name": "acme"}))
    assert done.status == "completed"


@session_loop
async def test_a_write_on_another_thread_wakes_the_wait() -> None:
    board = StatusBoard()
    with board.watch("e1") as written:
        thread = threading.Thread(target=board.changed, args=("e1",))
        thread.start()
        await asyncio.wait_for(written.wait(), timeout=5)
        thread.join()
    board.changed("e1")  # nobody waits any more: nothing happens


@session_loop
async def test_a_write_wakes_only_the_waits_of_its_execution() -> None:
    board = StatusBoard()
    with board.watch("e1") as first, board.watch("e2") as second:
        board.changed("e2")
        assert second.is_set() and not first.is_set()


class _Object:
    pass


def test_a_board_is_shared_per_store_and_knows_its_workers() -> None:
    class Store:
        pass

    store, worker = Store(), _Object()
    assert status_board(store) is status_board(store)
    assert not status_board(store).has_worker
    status_board(store).add_worker(worker)
    assert status_board(store).has_worker
    assert not status_board(Store()).has_worker
    del worker  # kept weakly: a worker that is gone writes nothing
    assert not status_board(store).has_worker


def test_a_store_that_cannot_be_referenced_weakly_shares_nothing() -> None:
    class Slotted:
        __slots__ = ()

    store: Any = Slotted()
    worker = _Object()
    status_board(store).add_worker(worker)
    assert not status_board(store).has_worker
