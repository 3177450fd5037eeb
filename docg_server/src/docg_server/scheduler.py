"""Starting active workflows whose trigger runs on a clock: cron schedules and polling.

:func:`fire_due` is called by each server process's timer (:meth:`Runtime.tick`):

- a ``schedule/cron`` workflow starts one run per fire time that has come since the workflow
  was last seen (missed fire times while the server was down start **one** run, for the most
  recent, not a burst); each fire time is claimed in the store first (a dedupe key), so with
  several server processes it starts exactly once, with ``scheduled_at`` as trigger data;
- a polling trigger (``TriggerType.POLLING``) is polled every ``POLL_INTERVAL_SECONDS``
  (:meth:`Engine.poll` starts one run per new item, deduplicated by the item's key).

On Temporal, schedules are Temporal Schedules instead (see the operations guide).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from docg_core.apps import TriggerType as CoreTriggerType
from docg_core.builtin.schedule import DEFAULT_TIMEZONE, next_runs
from docg_core.errors import DocgError, PluginError
from docg_core.workflow import Workflow as WorkflowDocument

from .models import TriggerType, Workflow, WorkflowStatus

if TYPE_CHECKING:
    from .runtime import Runtime

__all__ = ["POLL_INTERVAL_SECONDS", "fire_due"]

logger = logging.getLogger("docg.server.scheduler")

POLL_INTERVAL_SECONDS = 300
"""How often a polling trigger asks its vendor for new items."""


@dataclass(frozen=True)
class _Clocked:
    organization_id: str
    document: WorkflowDocument
    since: datetime


def _clocked_workflows(factory: sessionmaker[Session]) -> list[_Clocked]:
    from .api.v1.runs import engine_workflow  # the routes import the runtime, which imports us

    with factory() as session:
        workflows = list(
            session.scalars(
                sa.select(Workflow).where(
                    Workflow.status == WorkflowStatus.ACTIVE.value,
                    Workflow.trigger_type == TriggerType.SCHEDULED.value,
                )
            )
        )
        found = []
        for workflow in workflows:
            document = engine_workflow(session, workflow)
            found.append(_Clocked(str(workflow.organization_id), document, workflow.updated_at))
        return found


async def fire_due(runtime: Runtime, now: datetime | None = None) -> int:
    """Start the runs whose time has come; how many were started."""
    import asyncio

    moment = now or datetime.now(UTC)
    started = 0
    for clocked in await asyncio.to_thread(_clocked_workflows, runtime.session_factory):
        try:
            started += await _fire(runtime, clocked, moment)
        except (DocgError, ValueError) as exc:
            logger.warning("scheduled workflow %s could not start: %s", clocked.document.id, exc)
    return started


async def _fire(runtime: Runtime, clocked: _Clocked, now: datetime) -> int:
    document = clocked.document
    engine = runtime.engine
    try:
        kind = engine.registry.trigger(document.trigger.app, document.trigger.key).trigger_type
    except PluginError:
        return 0
    scope = f"{document.id}:clock"
    store = engine.store
    if kind == CoreTriggerType.POLLING:
        last = await store.datastore_get(scope, "polled_at")
        if last is not None and datetime.fromisoformat(last) > now - timedelta(
            seconds=POLL_INTERVAL_SECONDS
        ):
            return 0
        await store.datastore_set(scope, "polled_at", now.isoformat())
        return len(await engine.poll(document, organization_id=clocked.organization_id))
    if (document.trigger.app, document.trigger.key) != ("schedule", "cron"):
        return 0
    parameters = document.trigger.parameters
    cron = str(parameters.get("cron") or "")
    timezone = str(parameters.get("timezone") or DEFAULT_TIMEZONE)
    seen = await store.datastore_get(scope, "seen_until")
    since = datetime.fromisoformat(seen) if seen else clocked.since
    first = next_runs(cron, timezone, after=since)[0]
    if first > now:
        return 0
    # The most recent fire time that has come (cron fires at most once a minute, so an hour
    # holds at most 60): missed times while the server was down start one run, not a burst.
    recent = next_runs(cron, timezone, after=max(since, now - timedelta(hours=1)), count=61)
    due = max((fire for fire in recent if fire <= now), default=first)
    await store.datastore_set(scope, "seen_until", due.isoformat())
    if not await store.claim_dedupe_key(scope, due.isoformat()):
        return 0  # another process started it
    await runtime.runner.start(
        document,
        {"scheduled_at": due.isoformat()},
        organization_id=clocked.organization_id,
    )
    return 1
