"""The server's execution runtime: the engine on the server's database, and its runner.

One :class:`Runtime` per application (``app.state.runtime``):

- :attr:`Runtime.store` — :class:`docg_core.sqlstore.SQLStore` on ``DATABASE_URL``; its tables
  are the server's (migration 0003), so runs survive restarts and any process can resume one.
- :attr:`Runtime.engine` — the apps of the registry, the storage, the organization's
  connections (tenant-scoped), and two hooks: every document generation first takes one
  document from the plan's quota (atomically; refused → the step fails with
  ``plan-limit-reached``), and every successful generation is recorded as a
  ``generated_documents`` row.
- :attr:`Runtime.runner` — where executions run: in this process (inline), or on Temporal
  when ``TEMPORAL_ADDRESS`` is set.
- :attr:`Runtime.run_events` — wakes the run event streams (``/runs/{id}/events``) when this
  process's store writes a step or an execution's status; the streams read the store itself.

:meth:`Runtime.run_timers` resumes waits whose time has come (delays, approval expiry,
signature polling); the application's lifespan runs it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker

from docg_core.engine import ConnectionProvider, Engine
from docg_core.errors import StepError
from docg_core.plugins import Registry
from docg_core.records import ExecutionRecord, StepRecord
from docg_core.runners import Runner
from docg_core.runners.inline import InlineRunner
from docg_core.storage import Storage

from .config import Settings
from .documents import record_documents
from .events import NotifyingStore, RunNotifier
from .logging import execution_id_var, step_id_var
from .usage import release_reserved_document, reserve_document

__all__ = ["DOCUMENT_ACTIONS", "PLAN_LIMIT_CODE", "Runtime"]

logger = logging.getLogger("docg.server.runtime")

DOCUMENT_ACTIONS = frozenset({("documents", "generate-document")})
"""(app, action) pairs that produce a document counted against the plan."""
PLAN_LIMIT_CODE = "plan-limit-reached"

StepHook = Callable[[ExecutionRecord, StepRecord], Awaitable[None]]


class Runtime:
    """The engine, store and runner of one application (see the module docstring).

    :param connections: the organization-scoped credentials provider.
    :param http_transport: replaces the network for every action (tests, fakes).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        registry: Registry,
        storage: Storage,
        session_factory: sessionmaker[Session],
        connections: ConnectionProvider | Mapping[str, Mapping[str, Any]] | None = None,
        http_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.run_events = RunNotifier()
        self.store = NotifyingStore(
            settings.DATABASE_URL, notifier=self.run_events, create_tables=False
        )
        self.before_action: list[StepHook] = []
        self.after_step: list[StepHook] = []
        self.extensions: dict[str, object] = {}
        """State server features keep per runtime (it lives and dies with the runtime)."""
        self.engine = Engine(
            registry=registry,
            store=self.store,
            storage=storage,
            connections=connections,
            http_transport=http_transport,
            before_action=self._before_action,
            on_step=self._on_step,
            env_allowlist=(),
        )
        self.runner: Runner
        if settings.TEMPORAL_ADDRESS:
            from .worker import build_temporal_runner

            self.runner = build_temporal_runner(settings, self.engine)
        else:
            self.runner = InlineRunner(self.engine)
        self.before_action.append(self._take_document_from_quota)
        self.after_step.append(self._account_for_document)

    async def _take_document_from_quota(self, execution: ExecutionRecord, step: StepRecord) -> None:
        """One atomic check-and-increment per document step, on every path that runs one."""
        if (step.app, step.action) not in DOCUMENT_ACTIONS or execution.organization_id is None:
            return
        if not await reserve_document(self.session_factory, execution.organization_id):
            raise StepError(
                "the organization has used every document its plan allows this period; "
                "upgrade the plan or wait for the next period",
                code=PLAN_LIMIT_CODE,
            )

    async def _account_for_document(self, execution: ExecutionRecord, step: StepRecord) -> None:
        """Record the documents a step produced; give back the quota a failed generation took."""
        if step.app != "documents" or execution.organization_id is None:
            return
        if step.status == "success":
            # From the store: a conversion's row needs the generation step it started from.
            await record_documents(
                self.session_factory, await self.store.get_execution(execution.id)
            )
        elif (step.app, step.action) in DOCUMENT_ACTIONS and step.error_code != PLAN_LIMIT_CODE:
            await release_reserved_document(self.session_factory, execution.organization_id)

    async def _before_action(self, execution: ExecutionRecord, step: StepRecord) -> None:
        for hook in self.before_action:
            await hook(execution, step)

    async def _on_step(self, execution: ExecutionRecord, step: StepRecord) -> None:
        # Called inside the execution's own task: what it logs next carries these ids.
        execution_id_var.set(execution.id)
        step_id_var.set(step.key if step.status == "running" else None)
        if step.status not in ("success", "failed"):
            return
        for hook in self.after_step:
            try:
                await hook(execution, step)
            except Exception:
                # The step's outcome is already stored; a bookkeeping failure must not turn
                # a finished step into an engine error. It is logged for the operator.
                logger.exception(
                    "after-step hook failed for step %s of execution %s", step.key, execution.id
                )

    async def tick(self, now: datetime | None = None) -> list[ExecutionRecord]:
        """Start the scheduled and polling workflows that are due and, inline, resume every
        wait whose time has come; the executions resumed.

        On Temporal, its durable timers resume waits (resuming here too would race them)."""
        from .scheduler import fire_due

        resumed = [] if self.durable else await self.engine.resume_due(now)
        await fire_due(self, now)
        return resumed

    @property
    def durable(self) -> bool:
        """True when executions run on Temporal, whose durable timers resume waits."""
        return not isinstance(self.runner, InlineRunner)

    async def run_timers(self, interval: float = 5.0) -> None:
        """Call :meth:`tick` every ``interval`` seconds until cancelled; errors are logged."""
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("the timer tick failed; trying again in %.0fs", interval)
            await asyncio.sleep(interval)

    async def aclose(self) -> None:
        """Let in-flight executions finish (the runner's grace period), then close the store."""
        try:
            await self.runner.aclose()
        finally:
            await self.store.close()
