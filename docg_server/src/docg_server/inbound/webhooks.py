"""``POST /api/v1/webhooks/{workflow_id}/{token}``: start an active workflow from HTTP.

- The token in the URL is the secret (``webhook_url`` of the workflow's detail). It is
  compared in constant time; an unknown workflow and a wrong token both answer 404.
- The body (at most ``WEBHOOK_MAX_BODY_BYTES``) is JSON or a form; it becomes the trigger data.
  A trigger that verifies its vendor's signature (HubSpot's) checks it first: 401 if wrong.
- ``Idempotency-Key``: a retried delivery with the same key starts nothing new and answers
  the first run.
- Answers 202 ``{execution_id, status}`` at once; ``?sync=true`` waits up to
  ``WEBHOOK_SYNC_TIMEOUT_SECONDS`` and answers 200 with the run's ``result`` (the output of
  its last successful step) once it finished or paused (still running: 202).
"""

from __future__ import annotations

import hmac
import uuid
from typing import Annotated, Any, NamedTuple

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from docg_core.callbacks import CallbackRejected
from docg_core.errors import ValidationError
from docg_core.records import ExecutionRecord
from docg_core.workflow import Workflow as WorkflowDocument

from ..api.deps import RuntimeDep, SessionDep
from ..api.v1.runs import cached_engine_workflow, engine_workflow, invalid_run
from ..errors import HTTPProblem, problem_responses
from ..models import Workflow, WorkflowStatus
from .body import inbound_request, parse_body, read_body

__all__ = ["WebhookResult", "router"]

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

_IDEMPOTENCY_NAMESPACE = uuid.UUID("6f1c2d1e-8a51-4c8e-9d0c-2f61c3b8a7d4")
MAX_IDEMPOTENCY_KEY = 255


class WebhookResult(BaseModel):
    """The run a webhook started."""

    execution_id: str
    status: str
    result: dict[str, Any] | None = Field(
        default=None, description="With ?sync=true: the output of the last successful step."
    )
    error: str | None = None


class _Target(NamedTuple):
    """What a webhook needs of its workflow."""

    id: uuid.UUID
    organization_id: uuid.UUID
    status: str
    document: WorkflowDocument


_TARGET_COLUMNS = sa.select(
    Workflow.id, Workflow.organization_id, Workflow.status, Workflow.webhook_token, Workflow.version
)


def _find_target(session: Session, workflow_id: uuid.UUID, token: str) -> _Target:
    """The workflow behind the URL (404 unless the token matches), with its engine document.

    The hot path is one narrow query: the document comes from the per-version cache, and
    only a version not seen yet loads the workflow and its nodes. The session is closed here,
    on this thread, so the request's teardown has no connection to hand back."""
    try:
        row = session.execute(_TARGET_COLUMNS.where(Workflow.id == workflow_id)).first()
        expected = (row.webhook_token if row is not None else None) or "x" * 43
        # Compared even when the workflow does not exist, so timing tells nothing.
        matches = hmac.compare_digest(expected.encode(), token.encode())
        if row is None or row.webhook_token is None or not matches:
            raise HTTPProblem.not_found("there is no webhook at this URL")
        document = cached_engine_workflow(row.id, row.version)
        if document is None:
            workflow = session.get_one(Workflow, row.id)
            document = engine_workflow(session, workflow)
        return _Target(row.id, row.organization_id, row.status, document)
    finally:
        session.close()


def _result(execution: ExecutionRecord) -> dict[str, Any] | None:
    for step in reversed(execution.steps):
        if step.status == "success" and step.data_out is not None:
            data = step.data_out.get("data")
            return data if isinstance(data, dict) else {"value": data}
    return None


def _execution_id(workflow_id: uuid.UUID, key: str | None) -> str | None:
    if key is None:
        return None
    if not key or len(key) > MAX_IDEMPOTENCY_KEY:
        raise HTTPProblem(
            422,
            f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} characters",
            slug="validation-error",
        )
    return str(uuid.uuid5(_IDEMPOTENCY_NAMESPACE, f"{workflow_id}:{key}"))


@router.post(
    "/{workflow_id}/{token}",
    status_code=202,
    response_model=WebhookResult,
    responses={
        200: {"model": WebhookResult, "description": "With ?sync=true: the run finished."},
        **problem_responses(401, 404, 409, 413, 415, 422),
    },
)
async def receive_webhook(
    workflow_id: uuid.UUID,
    token: str,
    request: Request,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
    sync: Annotated[bool, Query(description="Wait for the run and answer its result.")] = False,
) -> WebhookResult:
    """Start the workflow with the request body as its trigger data."""
    settings = request.app.state.settings
    target = await run_in_threadpool(_find_target, session, workflow_id, token)
    if target.status != WorkflowStatus.ACTIVE.value:
        raise HTTPProblem.conflict(
            f"the workflow is {target.status}; activate it to accept webhooks",
            slug="workflow-not-active",
        )
    document = target.document
    body = await read_body(request, settings.WEBHOOK_MAX_BODY_BYTES)
    data = parse_body(body, request.headers.get("content-type"))
    organization_id = str(target.organization_id)
    execution_id = _execution_id(target.id, request.headers.get("idempotency-key"))
    engine = runtime.engine
    try:
        credentials = await engine.trigger_credentials(document, organization_id)
        trigger = engine.registry.trigger(document.trigger.app, document.trigger.key)()
        trigger.verify_request(
            inbound_request(request, body, settings.PUBLIC_URL),
            credentials,
            document.trigger.parameters,
        )
        started = await runtime.runner.start(
            document, data, organization_id=organization_id, execution_id=execution_id
        )
    except CallbackRejected as exc:
        raise HTTPProblem.unauthorized(
            f"the request's signature was not accepted: {exc}", slug="invalid-signature"
        ) from None
    except ValidationError as exc:
        raise invalid_run(exc) from None
    if not sync:
        return WebhookResult(execution_id=started.id, status=started.status)
    execution = await runtime.runner.wait(started.id, timeout=settings.WEBHOOK_SYNC_TIMEOUT_SECONDS)
    if execution.status != "running":
        response.status_code = 200
    return WebhookResult(
        execution_id=execution.id,
        status=execution.status,
        result=_result(execution),
        error=execution.error,
    )
