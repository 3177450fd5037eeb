"""``POST /api/v1/signatures/{provider}/webhook``: a vendor reports on a waiting step.

An e-signature app (``clicksign``, ``zapsign``) sends a document and its step waits with a
``resume_token`` naming the envelope. When the vendor calls this endpoint:

1. the app parses the body (:meth:`BaseApp.parse_callback`) — untrusted, only to learn which
   waiting steps it concerns;
2. for each, the waiting step of that app is found by its token and its node's connection is
   loaded within the step's organization;
3. the app checks the request's signature with that connection's secret
   (:meth:`BaseApp.verify_callback`) — a wrong one answers 401 and nothing changes;
4. an event id seen before is skipped (a redelivery), then the step is resumed; the run goes
   on in the background.

A callback for an envelope whose step no longer waits (finished, cancelled, decided by the
polling fallback) changes nothing and is acknowledged, so the vendor stops retrying.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Path, Request
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from docg_core.apps import BaseApp
from docg_core.callbacks import CallbackEvent, CallbackRejected, InboundRequest
from docg_core.errors import ExecutionError, PluginError
from docg_core.workflow import load_workflow

from ..api.deps import RuntimeDep
from ..errors import HTTPProblem, problem_responses
from ..models import ProcessedEvent
from ..models.engine import executions, steps
from ..runtime import Runtime
from .body import inbound_request, read_body

__all__ = ["CallbackResult", "router"]

router = APIRouter(prefix="/signatures", tags=["signatures"])

MAX_CALLBACK_BODY = 1024 * 1024


class CallbackResult(BaseModel):
    """What the delivery did: steps resumed, and events that changed nothing."""

    resumed: int
    ignored: int


@dataclass(frozen=True)
class _Waiting:
    execution_id: str
    step_key: str
    node_id: str


def _waiting_step(session: Session, app_key: str, token: str) -> _Waiting | None:
    row = session.execute(
        sa.select(steps.c.execution_id, steps.c.key, steps.c.node_id)
        .join(executions, executions.c.id == steps.c.execution_id)
        .where(
            steps.c.wait_resume_token == token,
            steps.c.app == app_key,
            steps.c.status == "waiting",
            executions.c.status == "waiting",
        )
    ).first()
    return None if row is None else _Waiting(row.execution_id, row.key, row.node_id)


def _first_delivery(factory: sessionmaker[Session], provider: str, event_id: str) -> bool:
    """Record ``event_id``; False if it was recorded before (by any process)."""
    with factory() as session:
        session.add(ProcessedEvent(provider=f"callback:{provider}", event_id=event_id[:255]))
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            return False
    return True


async def _credentials(runtime: Runtime, app: BaseApp, waiting: _Waiting) -> Any:
    execution = await runtime.store.get_execution(waiting.execution_id)
    node = load_workflow(execution.workflow).node(waiting.node_id)
    if node is None or node.connection is None:
        raise CallbackRejected("the waiting step has no connection to verify the request with")
    try:
        return await runtime.engine.connections.get_credentials(
            node.connection, app_key=app.key, organization_id=execution.organization_id
        )
    except KeyError:
        raise CallbackRejected("the waiting step's connection no longer exists") from None


async def _handle(
    runtime: Runtime,
    app: BaseApp,
    request: InboundRequest,
    event: CallbackEvent,
    factory: sessionmaker[Session],
) -> bool:
    """Resume the step ``event`` names; False if there was nothing to do."""

    def find(session_factory: sessionmaker[Session]) -> _Waiting | None:
        with session_factory() as session:
            return _waiting_step(session, app.key, event.resume_token)

    waiting = await run_in_threadpool(find, factory)
    if waiting is None:
        return False
    app.verify_callback(request, await _credentials(runtime, app, waiting))
    if event.event_id and not await run_in_threadpool(
        _first_delivery, factory, app.key, event.event_id
    ):
        return False
    try:
        await runtime.runner.resume(waiting.execution_id, waiting.step_key, event.payload)
    except ExecutionError:
        return False  # resumed meanwhile (the polling fallback, a concurrent delivery)
    return True


@router.post(
    "/{provider}/webhook",
    response_model=CallbackResult,
    responses=problem_responses(400, 401, 404, 413, 422),
)
async def receive_callback(
    provider: Annotated[str, Path(max_length=100, pattern=r"^[a-z0-9][a-z0-9_-]*$")],
    request: Request,
    runtime: RuntimeDep,
) -> CallbackResult:
    """A signature vendor's notification; 401 unless its signature is valid."""
    try:
        app = runtime.engine.registry.app(provider)
    except PluginError:
        raise HTTPProblem.not_found(f"there is no app {provider!r}") from None
    body = await read_body(request, MAX_CALLBACK_BODY)
    inbound = inbound_request(request, body, request.app.state.settings.PUBLIC_URL)
    factory: sessionmaker[Session] = request.app.state.session_factory
    resumed = ignored = 0
    try:
        events = app.parse_callback(inbound)
        for event in events:
            if await _handle(runtime, app, inbound, event, factory):
                resumed += 1
            else:
                ignored += 1
    except CallbackRejected as exc:
        raise HTTPProblem.unauthorized(
            f"the callback was not accepted: {exc}", slug="invalid-signature"
        ) from None
    return CallbackResult(resumed=resumed, ignored=ignored)
