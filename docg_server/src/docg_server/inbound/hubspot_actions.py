"""``POST /api/v1/hubspot/workflow-action``: a HubSpot workflow runs a DocG workflow.

The HubSpot app's custom workflow action points its ``actionUrl`` here. Each request is:

1. verified: the v2 ``X-HubSpot-Signature`` keyed with ``HUBSPOT_CLIENT_SECRET`` over the
   public URL (``PUBLIC_URL``) and the raw body — anything else answers 401;
2. routed to one tenant's workflow by the input field ``webhook_url`` (the workflow's secret
   webhook URL, compared in constant time; unknown and wrong answer the same 404). The app's
   signature only proves the request comes from HubSpot — every portal shares it — so the
   tenant is chosen by a secret only that tenant has, never by the portal id;
3. checked against the portal: the workflow's HubSpot connection must belong to the portal
   that sent the request (HubSpot tells which, ``GET /account-info/v3/details`` with the
   connection's token), else 403 — a leaked URL cannot be used from another HubSpot account;
4. run, with the enrolled record as trigger data. A run that ends within
   ``HUBSPOT_ACTION_WAIT_SECONDS`` is answered with its ``outputFields``; a longer one (a
   signature) answers ``BLOCK`` and, when it finishes, :class:`CallbackCompleter` (an
   after-step hook of the runtime) completes the HubSpot callback with the same fields.

A redelivery of the same ``callbackId`` starts nothing new: the execution id derives from it.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import time
import uuid
from collections.abc import Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any

import httpx
import sqlalchemy as sa
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from docg_core.callbacks import CallbackRejected
from docg_core.errors import DocgError, ValidationError
from docg_core.records import ExecutionRecord, StepRecord
from docg_core.workflow import Workflow as WorkflowDocument
from docg_core.workflow import load_workflow

from ..api.deps import RuntimeDep, SessionDep, public_base_url
from ..api.v1.runs import engine_workflow, invalid_run
from ..errors import HTTPProblem, problem_responses
from ..models import ProcessedEvent, Workflow, WorkflowStatus
from ..runtime import Runtime
from .body import inbound_request, read_body

if TYPE_CHECKING:
    from docg_hubspot.workflow_actions import WorkflowActionRequest

__all__ = ["ActionAnswer", "CallbackCompleter", "install", "output_fields", "router"]

logger = logging.getLogger("docg.server.hubspot")

router = APIRouter(prefix="/hubspot", tags=["hubspot"])

WEBHOOK_URL_FIELD = "webhook_url"
ACCEPTED_TRIGGERS = frozenset({("webhook", "catch-hook"), ("manual", "manual")})
ACCOUNT_URL = "https://api.hubapi.com/account-info/v3/details"
HTTP_TIMEOUT = httpx.Timeout(10.0)
_BLOCKED = "hubspot-action-blocked"
_COMPLETED = "hubspot-action-completed"
_NAMESPACE = uuid.UUID("0b7f3f0e-5d0c-4a43-9d52-3c1f8f6a9e21")
_HOOK_PATH = re.compile(r"/api/v1/webhooks/(?P<id>[0-9a-fA-F-]{36})/(?P<token>[\w-]{16,128})/?$")
_OBJECT_TYPES = {
    "CONTACT": "contacts",
    "COMPANY": "companies",
    "DEAL": "deals",
    "TICKET": "tickets",
    "QUOTE": "quotes",
    "LINE_ITEM": "line_items",
    "PRODUCT": "products",
}


class ActionAnswer(BaseModel):
    """What HubSpot expects: the action's output fields (``hs_execution_state`` among them)."""

    outputFields: dict[str, str | int | float | None] = Field(
        description="execution_id, status, document_id, document_url, error; or BLOCK."
    )


# -- the request -------------------------------------------------------------------------------


def _target(input_fields: Mapping[str, Any]) -> tuple[uuid.UUID, str]:
    url = input_fields.get(WEBHOOK_URL_FIELD)
    match = _HOOK_PATH.search(httpx.URL(url).path) if isinstance(url, str) and url else None
    if match is None:
        raise HTTPProblem(
            422,
            f"the action's input field {WEBHOOK_URL_FIELD!r} must be a DocG workflow's "
            "webhook_url (…/api/v1/webhooks/{workflow_id}/{token})",
            slug="validation-error",
        )
    return uuid.UUID(match["id"]), match["token"]


def _find_workflow(session: Session, workflow_id: uuid.UUID, token: str) -> Workflow:
    workflow = session.scalar(sa.select(Workflow).where(Workflow.id == workflow_id))
    expected = (workflow.webhook_token if workflow is not None else None) or "x" * 43
    matches = hmac.compare_digest(expected.encode(), token.encode())  # always compared
    if workflow is None or workflow.webhook_token is None or not matches:
        raise HTTPProblem.not_found("there is no DocG workflow at this webhook_url")
    if workflow.status != WorkflowStatus.ACTIVE.value:
        raise HTTPProblem.conflict(
            f"the workflow is {workflow.status}; activate it to run it from HubSpot",
            slug="workflow-not-active",
        )
    return workflow


def hubspot_connection(document: WorkflowDocument) -> str | None:
    """The HubSpot connection a workflow uses: its trigger's, else its first node's."""
    if document.trigger.app == "hubspot" and document.trigger.connection:
        return document.trigger.connection
    for node in document.iter_nodes():
        if node.app == "hubspot" and node.connection:
            return node.connection
    return None


def _trigger_data(action: WorkflowActionRequest) -> dict[str, Any]:
    raw_type = action.object_type or ""
    inputs = {k: v for k, v in action.input_fields.items() if k != WEBHOOK_URL_FIELD}
    return {
        "object_type": _OBJECT_TYPES.get(raw_type.upper(), raw_type.lower() or None),
        "object_id": action.object_id,
        "portal_id": action.portal_id,
        "input_fields": inputs,
        "hubspot": {
            "callback_id": action.callback_id,
            "workflow_id": action.workflow_id,
            "object_type": action.object_type,
        },
    }


# -- HubSpot calls -----------------------------------------------------------------------------


def _plugin(runtime: Runtime) -> ModuleType:
    """``docg_hubspot.workflow_actions``; 404 when the HubSpot app is not installed (the
    server does not depend on the plugin)."""
    if "hubspot" in {app.key for app in runtime.engine.registry.apps()}:
        try:
            from docg_hubspot import workflow_actions
        except ImportError:  # pragma: no cover - a registry app without its package
            pass
        else:
            return workflow_actions
    raise HTTPProblem.not_found("the HubSpot app is not installed on this server")


def _client(runtime: Runtime) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=runtime.engine.http_transport, timeout=HTTP_TIMEOUT)


async def _access_token(http: httpx.AsyncClient, credentials: Mapping[str, Any]) -> str:
    """A private app token, or the OAuth access token (refreshed first when it expires soon;
    the refreshed token is used, not stored — the next step refreshes it again)."""
    from docg_hubspot.auth import (
        REFRESH_MARGIN_SECONDS,
        can_refresh,
        expires_at,
        refresh_access_token,
    )

    if credentials.get("private_app_token"):
        return str(credentials["private_app_token"])
    deadline = expires_at(credentials)
    expiring = deadline is not None and deadline - time.time() < REFRESH_MARGIN_SECONDS
    if expiring and can_refresh(credentials):
        credentials = await refresh_access_token(http, credentials)
    token = credentials.get("access_token")
    if not token:
        raise CallbackRejected("the workflow's HubSpot connection has no access token")
    return str(token)


async def _portal_of(http: httpx.AsyncClient, credentials: Mapping[str, Any]) -> str:
    response = await http.get(
        ACCOUNT_URL, headers={"Authorization": f"Bearer {await _access_token(http, credentials)}"}
    )
    if response.status_code != 200:
        raise HTTPProblem(
            502,
            f"HubSpot answered HTTP {response.status_code} when asked which account the "
            "workflow's HubSpot connection belongs to; check the connection",
            slug="upstream-error",
        )
    return str(response.json().get("portalId"))


async def _credentials(runtime: Runtime, name: str, organization_id: str) -> Mapping[str, Any]:
    return await runtime.engine.connections.get_credentials(
        name, app_key="hubspot", organization_id=organization_id
    )


# -- outputs and completion --------------------------------------------------------------------


def output_fields(
    execution: ExecutionRecord, base_url: str = ""
) -> dict[str, str | int | float | None]:
    """The fields HubSpot receives: the run, and the last document it generated (a relative
    link is made absolute on ``base_url``)."""
    fields: dict[str, str | int | float | None] = {
        "execution_id": execution.id,
        "status": execution.status,
    }
    for step in execution.steps:
        data = (step.data_out or {}).get("data")
        if step.app == "documents" and step.status == "success" and isinstance(data, dict):
            for source, target in (("document_id", "document_id"), ("url", "document_url")):
                if isinstance(data.get(source), str):
                    fields[target] = data[source]
    link = fields.get("document_url")
    if isinstance(link, str) and link.startswith("/"):
        fields["document_url"] = f"{base_url.rstrip('/')}{link}"
    if execution.error:
        fields["error"] = execution.error[:1000]
    return fields


def _state(execution: ExecutionRecord) -> str:
    return "SUCCESS" if execution.status == "completed" else "FAIL_CONTINUE"


def _record(factory: sessionmaker[Session], provider: str, event_id: str) -> bool:
    """Insert a marker row; False if it existed (by any process)."""
    with factory() as session:
        session.add(ProcessedEvent(provider=provider, event_id=event_id))
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            return False
    return True


def _recorded(factory: sessionmaker[Session], provider: str, event_id: str) -> bool:
    with factory() as session:
        found = session.scalar(
            sa.select(ProcessedEvent.id).where(
                ProcessedEvent.provider == provider, ProcessedEvent.event_id == event_id
            )
        )
    return found is not None


def _callback_id(execution: ExecutionRecord) -> str | None:
    data = execution.trigger_data
    hubspot = data.get("hubspot") if isinstance(data, dict) else None
    callback = hubspot.get("callback_id") if isinstance(hubspot, dict) else None
    return callback if isinstance(callback, str) and callback else None


class CallbackCompleter:
    """Completes the HubSpot callback of a blocked action once its run has finished.

    As an after-step hook it watches executions whose trigger data names a callback: each
    finished step starts a watcher that waits for the run to stop; a finished run whose
    request was answered ``BLOCK`` (a row only this endpoint writes) is completed once (a
    second row claims it, so concurrent watchers and processes send one completion).
    """

    def __init__(self, runtime: Runtime, session_factory: sessionmaker[Session]) -> None:
        self.runtime = runtime
        self.session_factory = session_factory
        self._watchers: set[asyncio.Task[None]] = set()

    async def after_step(self, execution: ExecutionRecord, step: StepRecord) -> None:
        if _callback_id(execution) is None:
            return
        task = asyncio.get_running_loop().create_task(self._watch(execution.id))
        self._watchers.add(task)
        task.add_done_callback(self._watchers.discard)

    async def _watch(self, execution_id: str) -> None:
        try:
            await self.complete_if_finished(await self.runtime.runner.wait(execution_id))
        except Exception:
            logger.exception("completing the HubSpot callback of execution %s failed", execution_id)

    async def complete_if_finished(self, execution: ExecutionRecord) -> bool:
        """Send the completion if the run finished after a BLOCK answer; True if sent now."""
        callback_id = _callback_id(execution)
        if not execution.finished or callback_id is None or execution.organization_id is None:
            return False
        factory = self.session_factory
        if not await run_in_threadpool(_recorded, factory, _BLOCKED, execution.id):
            return False
        if not await run_in_threadpool(_record, factory, _COMPLETED, execution.id):
            return False
        name = hubspot_connection(load_workflow(execution.workflow))
        if name is None:
            raise CallbackRejected("the workflow no longer names a HubSpot connection")
        credentials = await _credentials(self.runtime, name, execution.organization_id)
        async with _client(self.runtime) as http:
            await _plugin(self.runtime).complete_callback(
                http,
                callback_id,
                output_fields(execution, self.runtime.settings.PUBLIC_URL),
                access_token=await _access_token(http, credentials),
                state=_state(execution),
            )
        return True


def install(runtime: Runtime, session_factory: sessionmaker[Session]) -> CallbackCompleter:
    """Add the completer to the runtime's after-step hooks (once; later calls return it).

    Kept on the runtime itself, so it lives and dies with it."""
    completer = runtime.extensions.get("hubspot_completer")
    if not isinstance(completer, CallbackCompleter):
        completer = CallbackCompleter(runtime, session_factory)
        runtime.after_step.append(completer.after_step)
        runtime.extensions["hubspot_completer"] = completer
    return completer


# -- the endpoint ------------------------------------------------------------------------------


def _verify(request: Request, body: bytes, plugin: ModuleType) -> None:
    settings = request.app.state.settings
    secret = settings.HUBSPOT_CLIENT_SECRET
    try:
        if secret is None or not secret.get_secret_value():
            raise CallbackRejected("this server has no HUBSPOT_CLIENT_SECRET to verify it with")
        inbound = inbound_request(request, body, settings.PUBLIC_URL)
        plugin.verify_workflow_action_request(inbound, secret.get_secret_value())
    except CallbackRejected as exc:
        raise HTTPProblem.unauthorized(
            f"the request's HubSpot signature was not accepted: {exc}", slug="invalid-signature"
        ) from None


@router.post(
    "/workflow-action",
    response_model=ActionAnswer,
    responses=problem_responses(401, 403, 404, 409, 413, 422, 502),
)
async def workflow_action(
    request: Request, session: SessionDep, runtime: RuntimeDep
) -> dict[str, Any]:
    """A HubSpot custom workflow action: run the DocG workflow its ``webhook_url`` names."""
    plugin = _plugin(runtime)
    settings = request.app.state.settings
    factory: sessionmaker[Session] = request.app.state.session_factory
    completer = install(runtime, factory)
    body = await read_body(request, settings.WEBHOOK_MAX_BODY_BYTES)
    _verify(request, body, plugin)
    try:
        inbound = inbound_request(request, body)
        action: WorkflowActionRequest = plugin.parse_workflow_action_request(inbound)
    except CallbackRejected as exc:
        raise HTTPProblem(422, str(exc), slug="invalid-body") from None
    workflow_id, token = _target(action.input_fields)
    workflow = await run_in_threadpool(_find_workflow, session, workflow_id, token)
    document = await run_in_threadpool(engine_workflow, session, workflow)
    organization_id = str(workflow.organization_id)
    if (document.trigger.app, document.trigger.key) not in ACCEPTED_TRIGGERS:
        raise HTTPProblem(
            422,
            "a workflow run from HubSpot needs a webhook (catch-hook) or manual trigger",
            slug="unsupported-trigger",
        )
    name = hubspot_connection(document)
    if name is None:
        raise HTTPProblem(
            422, "the workflow names no HubSpot connection", slug="no-hubspot-connection"
        )
    try:
        credentials = await _credentials(runtime, name, organization_id)
        async with _client(runtime) as http:
            portal = await _portal_of(http, credentials)
    except (KeyError, DocgError, CallbackRejected, httpx.HTTPError):
        raise HTTPProblem(
            422,
            f"the workflow's HubSpot connection {name!r} cannot be used; check it",
            slug="no-hubspot-connection",
        ) from None
    if action.portal_id is None or not hmac.compare_digest(portal, action.portal_id):
        raise HTTPProblem.forbidden(
            "the HubSpot account that sent this request is not the one of the workflow's "
            "HubSpot connection"
        )
    execution_id = str(uuid.uuid5(_NAMESPACE, f"{workflow.id}:{action.callback_id}"))
    try:
        started = await runtime.runner.start(
            document,
            _trigger_data(action),
            organization_id=organization_id,
            execution_id=execution_id,
        )
    except ValidationError as exc:
        raise invalid_run(exc) from None
    execution = await runtime.runner.wait(started.id, timeout=settings.HUBSPOT_ACTION_WAIT_SECONDS)
    if execution.finished and not await run_in_threadpool(
        _recorded, factory, _BLOCKED, execution.id
    ):
        return dict(
            plugin.action_response(
                output_fields(execution, public_base_url(request)), state=_state(execution)
            )
        )
    await run_in_threadpool(_record, factory, _BLOCKED, execution.id)
    # It may have finished since the wait: the completion is then sent now.
    await completer.complete_if_finished(await runtime.store.get_execution(execution.id))
    return dict(plugin.blocked_response(settings.HUBSPOT_ACTION_EXPIRATION))
