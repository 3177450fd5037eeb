"""The Temporal runner: each execution is one Temporal workflow, its id the execution id."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from asyncio import FIRST_COMPLETED
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, cast

from temporalio.client import Client, WorkflowHandle, WorkflowQueryFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError

from ...engine import Engine
from ...errors import ExecutionNotFound, Problem, ValidationError
from ...records import ExecutionRecord, utcnow
from ...workflow import Workflow, load_workflow
from ._local import StatusBoard, status_board
from ._messages import DEFAULT_PAYLOAD_LIMIT, ExecutionInput, PayloadTooLarge, check_size
from ._retry import spec_of
from .workflow import ExecutionWorkflow

__all__ = [
    "DEFAULT_TASK_QUEUE",
    "LOCAL_ACTIONS",
    "LOCAL_POLL_INTERVAL",
    "TemporalOptions",
    "TemporalRunner",
    "execution_input",
]

DEFAULT_TASK_QUEUE = "docg-workflows"

LOCAL_ACTIONS = frozenset({"formatter", "stop"})
"""Apps (``app``) and actions (``app/action``) whose steps run as local activities: quick,
in-process work with no calls out, run inside the workflow task on the worker that walks
the execution, saving two round trips through the Temporal server per step."""

LOCAL_POLL_INTERVAL = 0.5
"""Seconds before the first store read of :meth:`TemporalRunner.wait` when a worker in
this process writes to the same store (its writes wake the wait at once)."""


@dataclass(frozen=True)
class TemporalOptions:
    """Timeouts and limits of executions on Temporal.

    :param activity_timeout: seconds one attempt of a step may take.
    :param heartbeat_timeout: seconds without a heartbeat after which an attempt is retried
        elsewhere (a worker that died); actions heartbeat while they run.
    :param payload_limit: bytes a step's output or an execution's input may take in history.
    :param local_actions: apps and ``app/action`` pairs run as local activities (quick
        steps; an action that may wait never is).
    :param answer_timeout: seconds :meth:`TemporalRunner.resume` waits to learn whether the
        step took the decision (to report a refused payload).
    """

    activity_timeout: float = 3600.0
    heartbeat_timeout: float = 60.0
    payload_limit: int = DEFAULT_PAYLOAD_LIMIT
    local_actions: frozenset[str] = LOCAL_ACTIONS
    answer_timeout: float = 10.0


def execution_input(
    engine: Engine,
    execution: ExecutionRecord,
    activity_timeout: float = 3600.0,
    heartbeat_timeout: float = 60.0,
    local_actions: Collection[str] = LOCAL_ACTIONS,
) -> ExecutionInput:
    """The workflow input of a prepared execution: the flow snapshot, the trigger data, the
    variables ``{{env.X}}`` may read, each node's retry policy and the nodes that run as
    local activities (actions in ``local_actions`` that never wait, and mocked nodes)."""
    flow = load_workflow(execution.workflow)
    retry = {}
    local = []
    mocked = execution.mock_data or {}
    for node in _single_nodes(flow):
        assert node.app is not None and node.action is not None
        if node.app in engine.registry and engine.registry.app(node.app).action(node.action):
            action_cls = engine.registry.action(node.app, node.action)
            retry[node.id] = spec_of(action_cls.retry)
            cheap = node.app in local_actions or f"{node.app}/{node.action}" in local_actions
            if cheap and not action_cls.can_wait:
                local.append(node.id)
        if node.id in mocked and node.id not in local:
            local.append(node.id)
    return ExecutionInput(
        execution_id=execution.id,
        workflow=execution.workflow,
        trigger_data=execution.trigger_data,
        organization_id=execution.organization_id,
        started_at=execution.started_at.isoformat(),
        test_run=execution.test_run,
        until_step=execution.until_step,
        mock_data=execution.mock_data,
        env={k: os.environ[k] for k in engine.env_allowlist if k in os.environ},
        retry=retry,
        local=sorted(local),
        activity_timeout=activity_timeout,
        heartbeat_timeout=heartbeat_timeout,
    )


class TemporalRunner:
    """A :class:`~docg_core.runners.Runner` that runs executions on Temporal workers.

    The engine prepares executions (validation, trigger) and keeps their records; workers
    (:func:`~docg_core.runners.temporal.create_worker`, ``docg worker``) run the steps.

    :param client: a connected client, or None to connect to ``address`` on first use.
    :param poll_interval: first interval at which :meth:`wait` reads the store (it grows to
        0.5 s).
    :param long_poll_after: seconds after which :meth:`wait` also long-polls the workflow's
        result (one call to the Temporal server; not worth it for short executions).
    :param wake_locally: whether a worker in this process may wake :meth:`wait` (False:
        wait as a process without a worker does).
    """

    def __init__(
        self,
        engine: Engine,
        client: Client | None = None,
        *,
        address: str | None = None,
        namespace: str = "default",
        task_queue: str = DEFAULT_TASK_QUEUE,
        options: TemporalOptions | None = None,
        poll_interval: float = 0.02,
        long_poll_after: float = 0.5,
        wake_locally: bool = True,
    ) -> None:
        if client is None and address is None:
            raise ValueError("give a Temporal client or its address")
        self.engine = engine
        self.task_queue = task_queue
        self.options = options or TemporalOptions()
        self.poll_interval = poll_interval
        self.long_poll_after = long_poll_after
        self.wake_locally = wake_locally
        self._client = client
        self._address = address
        self._namespace = namespace
        self._connecting = asyncio.Lock()
        self._background: set[asyncio.Future[None]] = set()

    async def client(self) -> Client:
        """The Temporal client (connected on first use)."""
        if self._client is None:
            async with self._connecting:
                if self._client is None:
                    assert self._address is not None
                    self._client = await Client.connect(self._address, namespace=self._namespace)
        return self._client

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
        """See :meth:`Runner.start`. A repeated start with the same ``execution_id`` starts
        nothing new (the workflow id is the execution id)."""
        execution: ExecutionRecord | None = None
        if execution_id is not None:
            with contextlib.suppress(ExecutionNotFound):
                execution = await self.engine.store.get_execution(execution_id)
        if execution is None:
            execution = await self.engine.prepare(
                workflow,
                trigger_data,
                execution_id=execution_id,
                organization_id=organization_id,
                until_step=until_step,
                mock_data=mock_data,
                test_run=test_run,
            )
            inp = execution_input(
                self.engine,
                execution,
                self.options.activity_timeout,
                self.options.heartbeat_timeout,
                self.options.local_actions,
            )
            try:
                check_size(inp.trigger_data, self.options.payload_limit, "the trigger data")
            except PayloadTooLarge as exc:
                await self._fail(execution, str(exc))
                raise ValidationError(Problem(str(exc), None, "trigger")) from None
            await self._start_workflow(inp)
        elif execution.status == "running" and not execution.steps:
            # Created but perhaps never started (a crash in between): start is idempotent.
            await self._start_workflow(
                execution_input(
                    self.engine,
                    execution,
                    self.options.activity_timeout,
                    self.options.heartbeat_timeout,
                    self.options.local_actions,
                )
            )
        return execution

    async def resume(
        self, execution_id: str, node_id: str, payload: Mapping[str, Any] | None = None
    ) -> ExecutionRecord:
        """See :meth:`Runner.resume`: the store's claim makes it exactly once; the decision
        goes to the workflow as the ``resume`` signal (durable once this is sent).

        Then, for up to ``options.answer_timeout`` seconds, it asks the workflow how the step
        took the decision, so that a payload the action refuses raises
        :class:`ValidationError` here, as with :meth:`Engine.resume` (the step waits on).
        Past that time (no worker running, a slow resume) it returns without knowing."""
        execution, key = await self.engine.claim(execution_id, node_id)
        handle = await self.handle(execution_id)
        ticket = uuid.uuid4().hex
        await handle.signal("resume", args=[key, dict(payload or {}), ticket])
        answer = await self._answer(handle, ticket)
        if answer is not None and answer.get("status") == "invalid":
            raise ValidationError(str(answer.get("error") or "the resume payload was refused"))
        return execution

    async def _answer(self, handle: WorkflowHandle[Any, Any], ticket: str) -> dict[str, Any] | None:
        """The workflow's answer to the decision ``ticket``; None if it has none in time."""
        deadline = time.monotonic() + self.options.answer_timeout
        interval = self.poll_interval
        while (left := deadline - time.monotonic()) > 0:
            try:
                answer = await asyncio.wait_for(
                    handle.query("answer", ticket, result_type=dict), timeout=left
                )
            except (TimeoutError, RPCError, WorkflowQueryFailedError):
                return None  # no worker, or one that predates answers
            if answer is not None:
                return cast(dict[str, Any], answer)
            if (await self.engine.store.get_execution(handle.id)).finished:
                return None
            await asyncio.sleep(min(interval, max(deadline - time.monotonic(), 0.0)))
            interval = min(interval * 1.5, 0.5)
        return None

    async def cancel(self, execution_id: str) -> ExecutionRecord:
        """See :meth:`Runner.cancel`: cancels the Temporal workflow too."""
        execution = await self.engine.store.get_execution(execution_id)
        if execution.finished:
            return execution
        with contextlib.suppress(RPCError):  # no workflow any more: the record is what counts
            await (await self.handle(execution_id)).cancel()
        execution = await self.engine.store.get_execution(execution_id)
        if execution.finished:
            return execution
        execution.status, execution.error = "cancelled", "cancelled"
        execution.completed_at = utcnow()
        await self.engine.store.update_execution(execution)
        status_board(self.engine.store).changed(execution_id)
        return execution

    async def wait(self, execution_id: str, timeout: float | None = None) -> ExecutionRecord:  # noqa: ASYNC109 - returns the state at the deadline, never raises
        """See :meth:`Runner.wait`. Reads the store (it alone tells when the execution
        waits) with a growing interval, up to 0.5 s; once the execution has run for
        ``long_poll_after`` seconds, the workflow's result (a long poll on the Temporal
        server) wakes it the moment the execution finishes, and the store is read at most
        once a second.

        With a worker in this process on the same store (:func:`create_worker` with this
        engine), a status that worker writes wakes the wait at once; the store is then read
        after :data:`LOCAL_POLL_INTERVAL` seconds, then once a second, for what other
        processes write (a step that ran on another worker), and nothing is long-polled."""
        started = time.monotonic()
        deadline = None if timeout is None else started + timeout
        # a board of its own, which nobody writes to, when the workers here are not to wake it
        board = status_board(self.engine.store) if self.wake_locally else StatusBoard()
        local = board.has_worker
        closed: asyncio.Future[None] | None = None
        interval = LOCAL_POLL_INTERVAL if local else self.poll_interval
        try:
            with board.watch(execution_id) as written:
                execution = await self.engine.store.get_execution(execution_id)
                while execution.status == "running":
                    now = time.monotonic()
                    if deadline is not None and now >= deadline:
                        break
                    if not local and closed is None and now - started >= self.long_poll_after:
                        closed = asyncio.ensure_future(self._closed(execution_id))
                    pause = interval if deadline is None else min(interval, deadline - now)
                    wakes: set[asyncio.Future[Any]] = {asyncio.ensure_future(written.wait())}
                    if closed is not None:
                        wakes.add(closed)
                    try:
                        await asyncio.wait(wakes, timeout=pause, return_when=FIRST_COMPLETED)
                    finally:
                        for wake in wakes - {closed}:
                            wake.cancel()
                    written.clear()
                    execution = await self.engine.store.get_execution(execution_id)
                    # a long poll or a worker here tells of the end at once: the store then
                    # only has to show a wait, or what another process wrote
                    quick = closed is None and not local
                    interval = min(interval * 1.5, 0.5 if quick else 1.0)
        except BaseException:
            if closed is not None:
                closed.cancel()
            raise
        if closed is not None:
            if execution.finished and not closed.done():
                # The workflow closes right after its final status is written: let the
                # long poll end on its own rather than cancel it on the server.
                self._background.add(closed)
                closed.add_done_callback(self._background.discard)
            else:
                closed.cancel()
        return execution

    async def _closed(self, execution_id: str) -> None:
        """Returns when the execution's workflow has closed (or cannot be found)."""
        with contextlib.suppress(Exception):
            await (await self.handle(execution_id)).result()

    async def handle(self, execution_id: str) -> WorkflowHandle[Any, Any]:
        """The Temporal handle of an execution's workflow."""
        return (await self.client()).get_workflow_handle(execution_id)

    async def aclose(self) -> None:
        """Nothing to release: executions go on on the workers."""

    async def _start_workflow(self, inp: ExecutionInput) -> None:
        client = await self.client()
        await client.start_workflow(
            ExecutionWorkflow.run,
            inp,
            id=inp.execution_id,
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            request_eager_start=True,  # a worker sharing this client takes it at once
        )

    async def _fail(self, execution: ExecutionRecord, error: str) -> None:
        execution.status, execution.error, execution.completed_at = "failed", error, utcnow()
        await self.engine.store.update_execution(execution)
        status_board(self.engine.store).changed(execution.id)


def _single_nodes(flow: Workflow) -> list[Any]:
    found = []
    stack = list(flow.nodes)
    while stack:
        node = stack.pop()
        if node.type == "single":
            found.append(node)
        stack.extend(node.children())
    return found
