"""The engine: runs a workflow's nodes in order, records every step, pauses and resumes.

A run walks the node tree. Resuming walks it again from the top: nodes whose steps already
succeeded are not run again (their recorded outputs rebuild the variable scope and their
recorded branch choices and loop items are reused), so the walk continues exactly where the
execution paused.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import httpx
from pydantic_core import to_jsonable_python

from ._http import http_factory
from ._masking import mask_secrets
from .apps import ActionResult, BaseAction, BaseApp, validate_arguments
from .conditions import select_branches
from .context import (
    AppInfo,
    CredentialsRefresher,
    ExecutionContext,
    ExecutionInfo,
    FlowInfo,
    StepInfo,
    build_context,
)
from .errors import (
    DocgError,
    ExecutionError,
    Problem,
    StepError,
    ValidationError,
)
from .plugins import Registry, get_registry
from .records import ExecutionRecord, StepRecord, WaitRecord, utcnow
from .retry import classify_error
from .storage import Storage, storage_from_env
from .store import ExecutionStore, InMemoryStore
from .validation import validate_workflow
from .variables import compute_parameters
from .workflow import Node, Workflow, load_workflow

__all__ = [
    "ActionGuard",
    "ConnectionProvider",
    "Engine",
    "NodeWalker",
    "StepObserver",
    "WalkEnded",
    "WalkFailed",
]

logger = logging.getLogger("docg.engine")


class ConnectionProvider(Protocol):
    """Looks up the decrypted credentials of a node's ``connection``."""

    async def get_credentials(
        self, connection_id: str, *, app_key: str, organization_id: str | None
    ) -> Mapping[str, Any]:
        """Credentials for ``connection_id`` of ``organization_id`` (the execution's tenant;
        None when embedded); raise ``KeyError`` if that organization has no such connection."""
        ...


class _MappingConnections:
    def __init__(self, connections: Mapping[str, Mapping[str, Any]]) -> None:
        self._connections = connections

    async def get_credentials(
        self, connection_id: str, *, app_key: str, organization_id: str | None
    ) -> Mapping[str, Any]:
        return self._connections[connection_id]


StepObserver = Callable[[ExecutionRecord, StepRecord], Awaitable[None] | None]
"""Called after every step record is written; a coroutine function is awaited."""
ActionGuard = Callable[[ExecutionRecord, StepRecord], Awaitable[None]]
"""Awaited once before a step's action first runs (not on retries, resumes or mocked steps);
raising :class:`StepError` fails the step without running the action (e.g. a plan limit)."""


class Engine:
    """Runs workflows. Every argument has a working default::

        engine = Engine()
        execution = await engine.run(workflow, {"deal_id": 42})

    :param registry: apps available to workflows (default: built-ins + installed plugins).
    :param store: where executions are kept (default: in memory).
    :param connections: credentials by connection id, a mapping or a :class:`ConnectionProvider`.
    :param env_allowlist: environment variables ``{{env.X}}`` may read (default: the
        comma-separated ``DOCG_ENV_ALLOWLIST``); any other is missing.
    :param http_transport: replaces the network for every ``ctx.http`` (tests, fakes).
    :param storage: the file storage given to actions as ``ctx.storage`` (default:
        :func:`~docg_core.storage.storage_from_env` — S3/Spaces when ``DO_SPACES_BUCKET`` is
        set, else local files under ``DOCG_STORAGE_DIR`` or ``./docg-files``).
    :param on_step: called (or awaited, if it is a coroutine function) after every step
        record is written: progress displays, a server recording documents.
    :param before_action: an :data:`ActionGuard` awaited before each step's action runs.
    :param running_record_delay: a step's ``running`` record is written to the store only
        once the step has run this many seconds, so a quick step costs one write (its
        outcome) and a slow one shows as running meanwhile. ``on_step`` still sees the
        running record at once. 0 writes it before the action starts.
    """

    def __init__(
        self,
        *,
        registry: Registry | None = None,
        store: ExecutionStore | None = None,
        connections: Mapping[str, Mapping[str, Any]] | ConnectionProvider | None = None,
        env_allowlist: Sequence[str] | None = None,
        http_transport: httpx.AsyncBaseTransport | None = None,
        storage: Storage | None = None,
        on_step: StepObserver | None = None,
        before_action: ActionGuard | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        running_record_delay: float = 0.25,
    ) -> None:
        self.registry = registry if registry is not None else get_registry()
        self.store: ExecutionStore = store if store is not None else InMemoryStore()
        if connections is None:
            connections = {}
        if isinstance(connections, Mapping):
            connections = _MappingConnections(connections)
        self.connections: ConnectionProvider = connections
        if env_allowlist is None:
            raw = os.environ.get("DOCG_ENV_ALLOWLIST", "")
            env_allowlist = [v.strip() for v in raw.split(",") if v.strip()]
        self.env_allowlist = tuple(env_allowlist)
        self.http_transport = http_transport
        self.storage = storage if storage is not None else storage_from_env()
        self.on_step = on_step
        self.before_action = before_action
        self.running_record_delay = running_record_delay
        self._sleep = sleep
        self._tasks: dict[str, asyncio.Task[Any]] = {}
        self._cancel_requested: set[str] = set()

    # -- public API -------------------------------------------------------------------------

    async def run(
        self,
        workflow: Workflow,
        trigger_data: Mapping[str, Any] | None = None,
        *,
        until_step: str | None = None,
        mock_data: Mapping[str, Any] | None = None,
        test_run: bool | None = None,
        execution_id: str | None = None,
        organization_id: str | None = None,
    ) -> ExecutionRecord:
        """Run ``workflow`` with ``trigger_data`` and return the execution record.

        ``until_step`` stops after that node; ``mock_data`` maps node ids to outputs that
        replace those nodes' runs (nothing external is called for them). Either makes it a
        test run. Raises :class:`ValidationError` (before anything runs) if the workflow or
        the arguments are invalid.
        """
        execution = await self.prepare(
            workflow,
            trigger_data,
            until_step=until_step,
            mock_data=mock_data,
            test_run=test_run,
            execution_id=execution_id,
            organization_id=organization_id,
        )
        await self.execute(execution, workflow)
        return execution

    async def prepare(
        self,
        workflow: Workflow,
        trigger_data: Mapping[str, Any] | None = None,
        *,
        until_step: str | None = None,
        mock_data: Mapping[str, Any] | None = None,
        test_run: bool | None = None,
        execution_id: str | None = None,
        organization_id: str | None = None,
    ) -> ExecutionRecord:
        """The first half of :meth:`run`: validate, run the trigger and store the new
        execution (status ``running``, no steps yet); :meth:`execute` runs its nodes.

        Runners use the two halves to answer with the execution's id before it finishes.
        """
        validate_workflow(workflow, self.registry)
        problems = []
        if until_step is not None and workflow.node(until_step) is None:
            problems.append(Problem("no node with this id", until_step, "until_step"))
        for node_id in mock_data or {}:
            mocked = workflow.node(node_id)
            if node_id == "trigger":
                continue
            if mocked is None:
                problems.append(Problem("no node with this id", node_id, "mock_data"))
            elif mocked.type != "single":
                problems.append(
                    Problem(f"a {mocked.type} node cannot be mocked", node_id, "mock_data")
                )
        if problems:
            raise ValidationError(problems)
        mock = dict(mock_data or {})
        execution = ExecutionRecord(
            id=execution_id or str(uuid.uuid4()),
            flow_id=workflow.id,
            flow_name=workflow.name,
            organization_id=organization_id,
            workflow=workflow.model_dump(mode="json", exclude_defaults=True),
            test_run=bool(until_step or mock) if test_run is None else test_run,
            until_step=until_step,
            mock_data=to_jsonable_python(mock) if mock else None,
        )
        if "trigger" in mock:
            execution.trigger_data = _as_output(mock["trigger"])["data"]
        else:
            execution.trigger_data = await self._run_trigger(workflow, execution, trigger_data)
        await self.store.create_execution(execution)
        return execution

    async def execute(self, execution: ExecutionRecord, workflow: Workflow) -> ExecutionRecord:
        """Run the nodes of an execution from :meth:`prepare` until it finishes or waits."""
        await self._drive(execution, workflow, None)
        return execution

    async def resume(
        self, execution_id: str, node_id: str, payload: Mapping[str, Any] | None = None
    ) -> ExecutionRecord:
        """Continue a waiting execution: the waiting step ``node_id`` finishes with ``payload``.

        Exactly once: a second resume of the same step raises :class:`ExecutionError`. A
        payload the action rejects raises :class:`ValidationError` and the step keeps waiting.
        ``node_id`` may be a step key (``node[2]``) for a node inside a loop.
        """
        execution, key = await self.claim(execution_id, node_id)
        return await self.continue_claimed(execution, key, payload)

    async def claim(self, execution_id: str, node_id: str) -> tuple[ExecutionRecord, str]:
        """The first half of :meth:`resume`: take the waiting step (exactly one caller wins;
        the others get :class:`ExecutionError`). Returns the execution and the step's key;
        :meth:`continue_claimed` finishes the step and runs on."""
        execution = await self.store.get_execution(execution_id)
        step = execution.step(node_id)
        if step is None:
            waiting = [s for s in execution.steps if s.node_id == node_id and s.status == "waiting"]
            step = waiting[0] if len(waiting) == 1 else None
        if step is None:
            raise ExecutionError(f"execution {execution_id} has no step {node_id!r} to resume")
        if execution.status != "waiting" or step.status != "waiting":
            state = step.status if execution.status in ("waiting", "running") else execution.status
            raise ExecutionError(
                f"step {step.key!r} of execution {execution_id} is not waiting ({state}); "
                "it cannot be resumed again"
            )
        if not await self.store.claim_waiting_step(execution_id, step.key):
            raise ExecutionError(
                f"step {step.key!r} of execution {execution_id} was already resumed"
            )
        execution.status = "running"
        return execution, step.key

    async def continue_claimed(
        self, execution: ExecutionRecord, key: str, payload: Mapping[str, Any] | None = None
    ) -> ExecutionRecord:
        """Finish the claimed waiting step ``key`` with ``payload`` and run on."""
        workflow = load_workflow(execution.workflow)
        await self._drive(execution, workflow, (key, dict(payload or {})))
        return execution

    async def cancel(self, execution_id: str) -> ExecutionRecord:
        """Cancel a running or waiting execution; a finished one is returned unchanged."""
        task = self._tasks.get(execution_id)
        if task is not None and not task.done():
            self._cancel_requested.add(execution_id)
            task.cancel()
        execution = await self.store.get_execution(execution_id)
        if execution.finished:
            return execution
        execution.status = "cancelled"
        execution.error = "cancelled"
        execution.completed_at = utcnow()
        await self.store.update_execution(execution)
        return execution

    async def resume_due(self, now: datetime | None = None) -> list[ExecutionRecord]:
        """Resume every waiting step whose ``resume_at`` has come (delays, approval expiry),
        with the payload ``{"timeout": true}``."""
        resumed = []
        for execution_id, key in await self.store.due_waits(now or utcnow()):
            try:
                resumed.append(await self.resume(execution_id, key, {"timeout": True}))
            except ExecutionError:
                continue  # resumed by someone else meanwhile
        return resumed

    async def trigger_credentials(
        self, workflow: Workflow, organization_id: str | None = None
    ) -> Mapping[str, Any]:
        """The credentials of the trigger's connection (empty without one); raises
        :class:`ValidationError` if the organization has no such connection."""
        ref = workflow.trigger
        if ref.connection is None:
            return {}
        try:
            return await self.connections.get_credentials(
                ref.connection, app_key=ref.app, organization_id=organization_id
            )
        except KeyError:
            raise ValidationError(
                Problem(f"connection {ref.connection!r} not found", None, "trigger")
            ) from None

    async def poll(
        self, workflow: Workflow, *, organization_id: str | None = None
    ) -> list[ExecutionRecord]:
        """Ask the workflow's polling trigger for new items and start one execution per item
        never seen before (by its dedupe key)."""
        trigger_cls = self.registry.trigger(workflow.trigger.app, workflow.trigger.key)
        app = self.registry.app(workflow.trigger.app)
        execution_id = str(uuid.uuid4())
        params = validate_arguments(trigger_cls.arguments, workflow.trigger.parameters)
        ctx = self._context(
            app,
            workflow,
            ExecutionInfo(execution_id, organization_id=organization_id),
            _trigger_step(execution_id, trigger_cls.key, params),
            auth=await self.trigger_credentials(workflow, organization_id),
        )
        try:
            items = await trigger_cls().poll(ctx)
        finally:
            await ctx.aclose()
        scope = f"{workflow.id or workflow.name}:trigger"
        started = []
        for item in items:
            if await self.store.claim_dedupe_key(scope, item.dedupe_key):
                started.append(await self.run(workflow, item.data, organization_id=organization_id))
        return started

    def run_sync(
        self, workflow: Workflow, trigger_data: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> ExecutionRecord:
        """:meth:`run` for callers without an event loop."""
        return asyncio.run(self.run(workflow, trigger_data, **kwargs))

    def resume_sync(
        self, execution_id: str, node_id: str, payload: Mapping[str, Any] | None = None
    ) -> ExecutionRecord:
        """:meth:`resume` for callers without an event loop."""
        return asyncio.run(self.resume(execution_id, node_id, payload))

    # -- internals --------------------------------------------------------------------------

    async def _run_trigger(
        self, workflow: Workflow, execution: ExecutionRecord, trigger_data: Any
    ) -> Any:
        ref = workflow.trigger
        trigger_cls = self.registry.trigger(ref.app, ref.key)
        app = self.registry.app(ref.app)
        ctx = self._context(
            app,
            workflow,
            ExecutionInfo(execution.id, execution.test_run, execution.organization_id),
            _trigger_step(execution.id, ref.key, ref.parameters),
            auth=await self.trigger_credentials(workflow, execution.organization_id),
            trigger_output=trigger_data,
        )
        try:
            result = await trigger_cls().run(ctx)
        except StepError as exc:
            raise ValidationError(Problem(exc.message, None, "trigger")) from None
        finally:
            await ctx.aclose()
        return to_jsonable_python(result.data)

    def _context(
        self,
        app: BaseApp,
        workflow: Workflow,
        execution: ExecutionInfo,
        step: StepInfo,
        *,
        auth: Mapping[str, Any] | None = None,
        trigger_output: Any = None,
        outputs: Mapping[str, Any] | None = None,
        connection: str | None = None,
    ) -> ExecutionContext:
        return build_context(
            store=self.store,
            app=AppInfo(app.key, app.name),
            flow=FlowInfo(workflow.id, workflow.name, workflow.version),
            step=step,
            execution=execution,
            auth=auth,
            trigger_output=trigger_output,
            action_output=outputs,
            storage=self.storage,
            template_filters=self.registry.template_filters,
            http_factory=http_factory(app, transport=self.http_transport),
            credentials_refresher=self.credentials_refresher(
                connection, app_key=app.key, organization_id=execution.organization_id
            ),
        )

    def credentials_refresher(
        self, connection: str | None, *, app_key: str, organization_id: str | None
    ) -> CredentialsRefresher | None:
        """What ``ctx.refresh_auth`` calls for a step using ``connection``: the provider's
        ``refresh_rejected`` when it has one (the server's refreshes once per connection,
        across processes, and stores the result), else None."""
        refresh = getattr(self.connections, "refresh_rejected", None)
        if connection is None or refresh is None:
            return None

        async def refresher(rejected_access_token: str) -> Mapping[str, Any]:
            credentials: Mapping[str, Any] = await refresh(
                connection,
                app_key=app_key,
                organization_id=organization_id,
                access_token=rejected_access_token,
            )
            return credentials

        return refresher

    async def _drive(
        self,
        execution: ExecutionRecord,
        workflow: Workflow,
        resume: tuple[str, dict[str, Any]] | None,
    ) -> None:
        run = _Run(self, execution, workflow, resume)
        task = asyncio.current_task()
        if task is not None:
            self._tasks[execution.id] = task
        try:
            await run.walk(workflow.nodes, None)
            execution.status = "completed"
        except _Pause:
            execution.status = "waiting"
        except WalkEnded:
            execution.status = "completed"
        except WalkFailed as fail:
            execution.status = "failed"
            execution.error = fail.message
        except _BadResume as bad:
            await run.restore_wait(bad.step)
            raise bad.error from None
        except asyncio.CancelledError:
            execution.status = "cancelled"
            execution.error = "cancelled"
            execution.completed_at = utcnow()
            execution.steps = list(run.steps.values())
            await asyncio.shield(run.settle_deferred(write=True))  # what was running
            await asyncio.shield(self.store.update_execution(execution))
            if execution.id in self._cancel_requested and task is not None:
                self._cancel_requested.discard(execution.id)
                task.uncancel()
                return
            raise
        except DocgError as exc:
            execution.status = "failed"
            execution.error = str(exc)
        except Exception as exc:
            # A bug in an action's resume hook or in the engine: record the execution as
            # failed (never left "running") and let the caller see the real error.
            execution.status, execution.completed_at = "failed", utcnow()
            execution.error = f"internal error: {type(exc).__name__}: {exc}"
            execution.steps = list(run.steps.values())
            await run.settle_deferred(write=True)
            await self.store.update_execution(execution)
            raise
        finally:
            self._tasks.pop(execution.id, None)
        await run.settle_deferred()
        if execution.finished:
            execution.completed_at = utcnow()
        execution.steps = list(run.steps.values())
        await self.store.update_execution(execution)


class _DeferredWrite:
    """A step's running record, written to the store after ``delay`` seconds unless
    :meth:`settle` comes first (see ``Engine(running_record_delay=...)``)."""

    def __init__(
        self, store: ExecutionStore, execution_id: str, step: StepRecord, delay: float
    ) -> None:
        self._store, self._execution_id, self._step = store, execution_id, step
        self._task: asyncio.Future[None] | None = None
        self._timer = asyncio.get_running_loop().call_later(delay, self._start)

    def _start(self) -> None:
        self._task = asyncio.ensure_future(self._store.save_step(self._execution_id, self._step))

    async def settle(self, *, write: bool) -> None:
        """Cancel the write if it has not started (``write``: do it now instead), else wait
        for it to finish."""
        if self._task is not None:
            await self._task
            return
        self._timer.cancel()
        if write:
            await self._store.save_step(self._execution_id, self._step)


class _Pause(Exception):
    """A step waits: the execution pauses."""


class WalkEnded(Exception):
    """Raised by a walk when the stop action ran or ``until_step`` was reached."""


class WalkFailed(Exception):
    """Raised by a walk when a step failed (without ``continue_on_error``)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _BadResume(Exception):
    """The resume payload was rejected: the step goes back to waiting."""

    def __init__(self, step: StepRecord, error: ValidationError) -> None:
        self.step = step
        self.error = error


@dataclass
class _LoopFrame:
    suffix: str
    scope: dict[str, Any]


def _trigger_step(execution_id: str, key: str, params: Mapping[str, Any]) -> StepInfo:
    return StepInfo(
        id="trigger",
        key="trigger",
        app="",
        action=key,
        parameters=params,
        idempotency_key=f"{execution_id}:trigger",
    )


def _descendants(node: Node) -> list[Node]:
    found = []
    for child in node.children():
        found.append(child)
        found += _descendants(child)
    return found


def _as_output(value: Any) -> dict[str, Any]:
    """A mock or a result as ``{"raw", "data", "metadata"}``."""
    if isinstance(value, Mapping) and "data" in value and set(value) <= {"raw", "data", "metadata"}:
        return {
            "raw": value.get("raw"),
            "data": value["data"],
            "metadata": value.get("metadata") or {},
        }
    return {"raw": value, "data": value, "metadata": {}}


class NodeWalker:
    """Walks a workflow's node tree in order: branch choices, loop items and the variable
    scope, shared by every runner. Subclasses run single nodes (:meth:`single`), keep step
    records (:meth:`save`) and tell the time (:meth:`now`); a durable runner overrides these
    so that a replay takes the same path.

    :param steps: steps already recorded (a resumed walk reuses their outcomes).
    :param env: what ``{{env.X}}`` may read.
    :param extra_scope: more roots for the scope, e.g. ``now`` and ``uuid`` callables.
    """

    def __init__(
        self,
        workflow: Workflow,
        *,
        execution_id: str,
        started_at: datetime,
        test_run: bool,
        trigger_data: Any,
        until_step: str | None = None,
        env: Mapping[str, str] | None = None,
        steps: Sequence[StepRecord] = (),
        extra_scope: Mapping[str, Any] | None = None,
    ) -> None:
        self.workflow = workflow
        self.until_step = until_step
        self.steps: dict[str, StepRecord] = {s.key: s for s in steps}
        self.outputs: dict[str, Any] = {}
        self.scope: dict[str, Any] = {
            "trigger": trigger_data,
            "step": self.outputs,
            "flow": {"id": workflow.id, "name": workflow.name, "version": workflow.version},
            "execution": {
                "id": execution_id,
                "started_at": started_at.isoformat(),
                "test_run": test_run,
            },
            "env": dict(env or {}),
            **(extra_scope or {}),
        }

    def now(self) -> datetime:
        """The time written into step records."""
        return utcnow()

    async def save(self, step: StepRecord) -> None:
        """Keep ``step`` (called for every new or changed step record)."""
        raise NotImplementedError

    async def single(self, node: Node, key: str) -> None:
        """Run the single node ``node`` as step ``key``; set ``self.outputs[node.id]`` on
        success, raise :class:`WalkFailed` or :class:`WalkEnded` to stop the walk."""
        raise NotImplementedError

    async def walk(self, nodes: Sequence[Node], loop: _LoopFrame | None) -> None:
        for node in nodes:
            key = node.id + (loop.suffix if loop else "")
            if node.type == "single":
                await self.single(node, key)
            elif node.type == "loop":
                await self.loop(node, key, loop)
            else:
                await self.branch(node, key, loop)
            if self.until_step == node.id:
                raise WalkEnded

    async def branch(self, node: Node, key: str, loop: _LoopFrame | None) -> None:
        done = self.steps.get(key)
        if done is not None and done.status in ("success", "skipped") and done.data_out:
            selected: list[int] = list(done.data_out["data"]["selected"])
        else:
            mode: Literal["first", "all"] = "first" if node.type == "branch" else "all"
            chosen = select_branches(node.branches, self.scope, mode=mode)
            selected = [i for i, b in enumerate(node.branches) if any(b is c for c in chosen)]
            now = self.now()
            data = {"selected": selected, "branches": [node.branches[i].name for i in selected]}
            await self.save(
                StepRecord(
                    key=key,
                    node_id=node.id,
                    status="success" if selected else "skipped",
                    data_out={"raw": None, "data": data, "metadata": {}},
                    attempt=1,
                    started_at=now,
                    completed_at=now,
                )
            )
        self.outputs[node.id] = self.steps[key].data_out
        for i in selected:
            await self.walk(node.branches[i].nodes, loop)

    async def loop(self, node: Node, key: str, outer: _LoopFrame | None) -> None:
        step = self.steps.get(key)
        if step is not None and step.status in ("success", "running") and step.data_in:
            items = step.data_in["items"]
        else:
            items = compute_parameters(node.items, self.scope)
            step = StepRecord(
                key=key,
                node_id=node.id,
                status="running",
                attempt=1,
                started_at=self.now(),
                data_in={"items": to_jsonable_python(items)},
            )
            if items is None:
                items = []
            if not isinstance(items, list):
                step.status, step.completed_at = "failed", self.now()
                step.error = f"items must be a list, got {type(items).__name__}"
                await self.save(step)
                raise WalkFailed(f"node {node.id!r}: {step.error}")
            step.data_in = {"items": to_jsonable_python(items)}
            await self.save(step)
        previous = self.scope.get("loop")
        body = [n.id for n in _descendants(node)]
        results: list[dict[str, Any]] = []
        try:
            for index, item in enumerate(items):
                frame = _LoopFrame(
                    suffix=f"{outer.suffix if outer else ''}[{index}]",
                    scope={"item": item, "index": index, "parent": outer.scope if outer else None},
                )
                self.scope["loop"] = frame.scope
                for node_id in body:  # an iteration sees only what it produced itself
                    self.outputs.pop(node_id, None)
                try:
                    await self.walk(node.nodes, frame)
                finally:
                    results.append(
                        {
                            n.id: self.outputs[n.id]["data"]
                            for n in node.nodes
                            if n.id in self.outputs
                        }
                    )
        except WalkEnded:
            await self.finish_loop(node, step, results)  # stopped inside the loop
            raise
        finally:
            if previous is None:
                self.scope.pop("loop", None)
            else:
                self.scope["loop"] = previous
        await self.finish_loop(node, step, results)

    async def finish_loop(
        self, node: Node, step: StepRecord, results: list[dict[str, Any]]
    ) -> None:
        if step.status != "success":
            step = step.model_copy(
                update={
                    "status": "success",
                    "completed_at": self.now(),
                    "data_out": {
                        "raw": None,
                        "data": to_jsonable_python({"count": len(results), "results": results}),
                        "metadata": {},
                    },
                }
            )
            await self.save(step)
        self.outputs[node.id] = step.data_out


class _Run(NodeWalker):
    """One pass over the node tree of one execution, in this process."""

    def __init__(
        self,
        engine: Engine,
        execution: ExecutionRecord,
        workflow: Workflow,
        resume: tuple[str, dict[str, Any]] | None,
    ) -> None:
        super().__init__(
            workflow,
            execution_id=execution.id,
            started_at=execution.started_at,
            test_run=execution.test_run,
            trigger_data=execution.trigger_data,
            until_step=execution.until_step,
            env={k: os.environ[k] for k in engine.env_allowlist if k in os.environ},
            steps=execution.steps,
        )
        self.engine = engine
        self.execution = execution
        self.resume = resume
        self.mock = execution.mock_data or {}
        self.deferred: _DeferredWrite | None = None

    async def save(self, step: StepRecord, *, defer: bool = False) -> None:
        """Store ``step`` and tell ``on_step``. With ``defer`` (a step starting to run), the
        store write waits ``engine.running_record_delay`` seconds and is dropped if the step's
        next record comes first."""
        self.steps[step.key] = step
        await self.settle_deferred()
        delay = self.engine.running_record_delay
        if defer and delay > 0:
            self.deferred = _DeferredWrite(self.engine.store, self.execution.id, step, delay)
        else:
            await self.engine.store.save_step(self.execution.id, step)
        if self.engine.on_step is not None:
            outcome = self.engine.on_step(self.execution, step)
            if inspect.isawaitable(outcome):
                await outcome

    async def settle_deferred(self, *, write: bool = False) -> None:
        """Drop a deferred running record that has not been written yet (``write``: write it
        now instead); one being written is waited for."""
        deferred, self.deferred = self.deferred, None
        if deferred is not None:
            await deferred.settle(write=write)

    async def single(self, node: Node, key: str) -> None:
        done = self.steps.get(key)
        resuming = self.resume is not None and self.resume[0] == key
        if done is not None and not resuming:
            if done.status == "success" or (done.status == "failed" and node.continue_on_error):
                self.outputs[node.id] = done.data_out
                return
            if done.status == "waiting":
                raise _Pause
        assert node.app is not None and node.action is not None
        engine = self.engine
        if node.id in self.mock:
            now = utcnow()
            params = compute_parameters(node.parameters, self.scope)
            if node.app in engine.registry and engine.registry.app(node.app).action(node.action):
                arguments = engine.registry.action(node.app, node.action).arguments
                params = mask_secrets(
                    to_jsonable_python(params), arguments, engine.registry.app(node.app), {}
                )
            await self.save(
                StepRecord(
                    key=key,
                    node_id=node.id,
                    app=node.app,
                    action=node.action,
                    status="success",
                    data_in=to_jsonable_python(params),
                    data_out=to_jsonable_python(_as_output(self.mock[node.id])),
                    attempt=1,
                    started_at=now,
                    completed_at=now,
                )
            )
            self.outputs[node.id] = self.steps[key].data_out
            return
        step = (done if resuming and done is not None else None) or StepRecord(
            key=key, node_id=node.id, app=node.app, action=node.action
        )
        step = step.model_copy(update={"status": "running", "error": None, "error_code": None})
        if step.started_at is None:
            step.started_at = utcnow()
        try:
            app = engine.registry.app(node.app)
            action_cls = engine.registry.action(node.app, node.action)
            raw_params = compute_parameters(node.parameters, self.scope)
            auth = await self.credentials(node, app)
            step.data_in = mask_secrets(
                to_jsonable_python(raw_params), action_cls.arguments, app, auth
            )
            if not resuming:
                step.attempt = 1
                await self.save(step.model_copy(), defer=True)
            params = validate_arguments(action_cls.arguments, raw_params, node_id=node.id)
            if not resuming and engine.before_action is not None:
                await engine.before_action(self.execution, step)
        except StepError as exc:
            await self.fail(node, step, exc)
            return
        except DocgError as exc:
            await self.fail(node, step, StepError(str(exc)))
            return
        if resuming:
            assert self.resume is not None
            result = await self.finish_resume(node, step, action_cls, app, params, auth)
        else:
            result = await self.attempts(node, step, action_cls, app, params, auth)
        if result is None:
            return  # failed, continue_on_error
        await self.record_result(node, step, result)

    async def credentials(self, node: Node, app: BaseApp) -> Mapping[str, Any]:
        if node.connection is None:
            return {}
        try:
            return await self.engine.connections.get_credentials(
                node.connection, app_key=app.key, organization_id=self.execution.organization_id
            )
        except KeyError:
            raise StepError(f"connection {node.connection!r} not found") from None

    def context(
        self,
        node: Node,
        step: StepRecord,
        app: BaseApp,
        action_key: str,
        params: Mapping[str, Any],
        auth: Mapping[str, Any],
    ) -> ExecutionContext:
        execution = self.execution
        return self.engine._context(
            app,
            self.workflow,
            ExecutionInfo(execution.id, execution.test_run, execution.organization_id),
            StepInfo(
                id=node.id,
                key=step.key,
                app=app.key,
                action=action_key,
                parameters=params,
                idempotency_key=f"{execution.id}:{step.key}",
                attempt=step.attempt,
            ),
            auth=auth,
            trigger_output=execution.trigger_data,
            outputs=self.outputs,
            connection=node.connection,
        )

    async def attempts(
        self,
        node: Node,
        step: StepRecord,
        action_cls: type[BaseAction],
        app: BaseApp,
        params: Mapping[str, Any],
        auth: Mapping[str, Any],
    ) -> ActionResult | None:
        policy = action_cls.retry
        while True:
            ctx = self.context(node, step, app, action_cls.key, params, auth)
            try:
                result = await action_cls().run(ctx)
                if not isinstance(result, ActionResult):
                    raise StepError(
                        f"action {app.key}/{action_cls.key} returned "
                        f"{type(result).__name__}, not an ActionResult"
                    )
                return result
            except asyncio.CancelledError:
                raise
            except ValidationError as exc:
                error = StepError(str(exc), code="invalid")
            except Exception as exc:
                error = classify_error(exc)
            finally:
                await ctx.aclose()
            if not error.retryable or step.attempt >= policy.attempts:
                await self.fail(node, step, error)
                return None
            delay = policy.delay(step.attempt, getattr(error, "retry_after", None))
            logger.info(
                "step %s of %s failed (attempt %d, %s); retrying in %.1fs",
                step.key,
                self.execution.id,
                step.attempt,
                error,
                delay,
            )
            step.error, step.error_code = f"attempt {step.attempt}: {error}", error.code
            step.attempt += 1
            await self.save(step)
            await self.engine._sleep(delay)

    async def finish_resume(
        self,
        node: Node,
        step: StepRecord,
        action_cls: type[BaseAction],
        app: BaseApp,
        params: Mapping[str, Any],
        auth: Mapping[str, Any],
    ) -> ActionResult | None:
        assert self.resume is not None
        ctx = self.context(node, step, app, action_cls.key, params, auth)
        try:
            return await action_cls().resume(ctx, self.resume[1])
        except ValidationError as exc:
            waiting = self.steps.get(step.key) or step
            raise _BadResume(waiting, exc) from None
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self.fail(node, step, classify_error(exc))
            return None
        finally:
            await ctx.aclose()

    async def restore_wait(self, step: StepRecord) -> None:
        """Put a step whose resume payload was rejected back to waiting."""
        step = step.model_copy(update={"status": "waiting"})
        await self.save(step)
        self.execution.status = "waiting"
        self.execution.steps = list(self.steps.values())
        await self.engine.store.update_execution(self.execution)

    async def record_result(self, node: Node, step: StepRecord, result: ActionResult) -> None:
        step.data_out = to_jsonable_python(result.to_output())
        step.error, step.error_code = None, None
        if result.waiting is not None:
            w = result.waiting
            step.status = "waiting"
            step.wait = WaitRecord(
                reason=w.reason,
                resume_token=w.resume_token,
                resume_at=w.resume_at,
                expires_at=w.expires_at,
            )
            await self.save(step)
            raise _Pause
        step.status = "success"
        step.wait = None
        step.completed_at = datetime.now(UTC)
        await self.save(step)
        self.outputs[node.id] = step.data_out
        if result.ends_execution:
            raise WalkEnded

    async def fail(self, node: Node, step: StepRecord, error: StepError) -> None:
        step.status = "failed"
        step.error = error.message
        step.error_code = error.code
        # Later steps of a `continue_on_error` node read the error from its output.
        step.data_out = {
            "raw": None,
            "data": to_jsonable_python(error.details),
            "metadata": {"error": error.message, "error_code": error.code},
        }
        step.completed_at = utcnow()
        await self.save(step)
        if not node.continue_on_error:
            raise WalkFailed(f"node {node.id!r} failed: {step.error}")
        self.outputs[node.id] = step.data_out
