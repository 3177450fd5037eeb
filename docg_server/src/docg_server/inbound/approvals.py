"""``/api/v1/approvals/{token}``: the public side of an approval step.

The token is the approval step's ``resume_token`` (256 random bits, set by the approval app),
so the link alone authorises the decision: no account is needed. It is single use — once a
decision is recorded the step no longer waits and the link answers 404 — and it expires
with the step (``timeout_hours``): an expired approval can be seen but not decided.

- ``GET`` answers JSON (what is being approved, signed ``document_urls``, ``status``,
  ``expires_at``), or an HTML page with the approve/reject form when a browser asks for HTML.
- ``POST .../approve`` and ``POST .../reject`` take ``{name, comment}`` as JSON or as the
  page's form; the execution then goes on in the background. Two decisions racing: the
  first wins, the second answers 409.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from docg_core.errors import ExecutionError, ValidationError
from docg_core.storage import Storage

from ..api.deps import RuntimeDep, SessionDep, StorageDep, public_base_url
from ..errors import HTTPProblem, problem_responses
from ..models.engine import executions, steps
from .approval_page import PAGE_CSP, approval_page, decided_page, problem_page
from .body import parse_body, read_body

__all__ = ["ApprovalOut", "DecisionIn", "DecisionOut", "router"]

router = APIRouter(prefix="/approvals", tags=["approvals"])

Token = Annotated[str, Path(min_length=16, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]
MAX_DECISION_BODY = 16 * 1024
_GONE = (
    "this approval link cannot be used: the decision was already made, the run was "
    "cancelled, or the link never existed"
)


class ApprovalOut(BaseModel):
    """What a person is asked to approve."""

    status: Literal["pending", "expired"]
    title: str | None
    message: str | None
    approvers: list[str]
    approval_policy: Literal["any", "all"] = Field(
        description="``all``: every approver must approve (each decides with their e-mail)."
    )
    pending: list[str] = Field(description="With ``all``: the approvers yet to decide.")
    document_urls: list[str] = Field(description="Signed links to the documents, short-lived.")
    workflow_name: str
    execution_id: str
    requested_at: datetime
    expires_at: datetime | None
    approve_url: str
    reject_url: str


class DecisionIn(BaseModel):
    """A decision's optional details."""

    model_config = ConfigDict(extra="ignore")

    name: str | None = Field(default=None, max_length=200, description="Who decides.")
    email: str | None = Field(
        default=None,
        max_length=320,
        description="The approver deciding; required when every approver must approve "
        "(``approval_policy: all``) and then one of ``pending``.",
    )
    comment: str | None = Field(default=None, max_length=2000)


class DecisionOut(BaseModel):
    status: Literal["approved", "rejected"]
    execution_id: str


@dataclass(frozen=True)
class _Waiting:
    execution_id: str
    step_key: str
    organization_id: str | None
    workflow_name: str
    data: dict[str, Any]
    requested_at: datetime
    expires_at: datetime | None

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= datetime.now(UTC)


def _find(session: Session, token: str) -> _Waiting:
    row = session.execute(
        sa.select(
            steps.c.execution_id,
            steps.c.key,
            steps.c.data_out,
            steps.c.started_at,
            steps.c.wait_expires_at,
            executions.c.organization_id,
            executions.c.flow_name,
        )
        .join(executions, executions.c.id == steps.c.execution_id)
        .where(
            steps.c.wait_resume_token == token,
            steps.c.wait_reason == "approval",
            steps.c.status == "waiting",
            executions.c.status == "waiting",
        )
    ).first()
    if row is None:
        raise HTTPProblem.not_found(_GONE)
    data = (row.data_out or {}).get("data") or {}
    return _Waiting(
        execution_id=row.execution_id,
        step_key=row.key,
        organization_id=row.organization_id,
        workflow_name=row.flow_name,
        data=data if isinstance(data, dict) else {},
        requested_at=row.started_at or datetime.now(UTC),
        expires_at=row.wait_expires_at,
    )


async def _signed(
    storage: Storage, organization_id: str | None, value: Any, ttl: int
) -> str | None:
    """A link for one entry of ``document_urls``: a URL as is, or one of the organization's
    storage keys (or a step output holding one) signed for ``ttl`` seconds."""
    if isinstance(value, dict):
        value = next((value[k] for k in ("pdf_key", "file_key", "url") if value.get(k)), None)
    if not isinstance(value, str) or not value:
        return None
    if value.startswith(("https://", "http://")):
        return value
    if organization_id is None or not value.startswith(f"docg/{organization_id}/"):
        return None  # never sign another tenant's file, whatever the step recorded
    return await storage.signed_url(value, expires=ttl)


async def _approval(
    request: Request, waiting: _Waiting, token: str, storage: Storage
) -> ApprovalOut:
    ttl = request.app.state.settings.APPROVAL_PAGE_LINK_TTL_SECONDS
    links = [
        await _signed(storage, waiting.organization_id, value, ttl)
        for value in waiting.data.get("document_urls") or []
    ]
    base = f"{public_base_url(request)}/api/v1/approvals/{token}"
    approvers = waiting.data.get("approvers") or []
    pending = waiting.data.get("pending") or []
    return ApprovalOut(
        status="expired" if waiting.expired else "pending",
        title=waiting.data.get("title"),
        message=waiting.data.get("message"),
        approvers=[str(a) for a in approvers] if isinstance(approvers, list) else [],
        approval_policy="all" if waiting.data.get("approval_policy") == "all" else "any",
        pending=[str(a) for a in pending] if isinstance(pending, list) else [],
        document_urls=[link for link in links if link],
        workflow_name=waiting.workflow_name,
        execution_id=waiting.execution_id,
        requested_at=waiting.requested_at,
        expires_at=waiting.expires_at,
        approve_url=f"{base}/approve",
        reject_url=f"{base}/reject",
    )


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept


def _html(content: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(content, status_code, headers={"Content-Security-Policy": PAGE_CSP})


@router.get(
    "/{token}",
    response_model=ApprovalOut,
    responses={200: {"content": {"text/html": {}}}, **problem_responses(404, 422)},
)
async def get_approval(
    token: Token, request: Request, session: SessionDep, storage: StorageDep
) -> Any:
    """What is being approved (JSON), or the approval page for a browser (HTML)."""
    try:
        waiting = await run_in_threadpool(_find, session, token)
    except HTTPProblem as problem:
        if _wants_html(request):
            return _html(problem_page("This link cannot be used", _GONE), problem.status)
        raise
    approval = await _approval(request, waiting, token, storage)
    if _wants_html(request):
        base = f"{public_base_url(request)}/api/v1/approvals/{token}"
        return _html(approval_page(approval, base))
    return approval


async def _decide(
    decision: Literal["approved", "rejected"],
    token: str,
    request: Request,
    session: Session,
    runtime: Any,
) -> Any:
    form = "form" in (request.headers.get("content-type") or "")
    body = await read_body(request, MAX_DECISION_BODY)
    try:
        details = DecisionIn.model_validate(parse_body(body, request.headers.get("content-type")))
    except PydanticValidationError as exc:
        raise HTTPProblem(422, f"the decision is not valid: {exc.errors()[0]['msg']}") from None
    try:
        waiting = await run_in_threadpool(_find, session, token)
        if waiting.expired:
            raise HTTPProblem.conflict(
                "this approval has expired and can no longer be decided",
                slug="approval-expired",
            )
        every_approver = waiting.data.get("approval_policy") == "all"
        decided_by = details.email or details.name
        if every_approver:
            pending = [str(a).lower() for a in waiting.data.get("pending") or []]
            if not details.email or details.email.strip().lower() not in pending:
                raise HTTPProblem(
                    422,
                    "every approver must decide with their own e-mail; "
                    f"still to decide: {', '.join(pending) or 'nobody'}",
                    slug="not-a-pending-approver",
                )
            decided_by = details.email.strip()
        try:
            await runtime.runner.resume(
                waiting.execution_id,
                waiting.step_key,
                {"decision": decision, "comment": details.comment, "decided_by": decided_by},
            )
        except ExecutionError:
            if every_approver:
                raise HTTPProblem.conflict(
                    "another approver's decision is being recorded; try again in a moment",
                    slug="approval-in-progress",
                ) from None
            raise HTTPProblem.conflict(
                "this approval was already decided", slug="approval-already-decided"
            ) from None
        except ValidationError as exc:
            raise HTTPProblem(422, str(exc), slug="invalid-decision") from None
    except HTTPProblem as problem:
        if form:
            return _html(
                problem_page("This decision was not recorded", problem.detail or ""), problem.status
            )
        raise
    if form:
        return _html(decided_page(decision))
    return DecisionOut(status=decision, execution_id=waiting.execution_id)


def _page_or_problem(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Problem answers that the approval page's form gets as an HTML page instead."""
    responses = problem_responses(*statuses)
    for response in responses.values():
        response["content"]["text/html"] = {"schema": {"type": "string"}}
    return responses


_DECISION_DOC = {
    "requestBody": {
        "content": {
            "application/json": {"schema": DecisionIn.model_json_schema()},
            "application/x-www-form-urlencoded": {"schema": DecisionIn.model_json_schema()},
        }
    }
}


@router.post(
    "/{token}/approve",
    response_model=DecisionOut,
    openapi_extra=_DECISION_DOC,
    responses={**problem_responses(413, 415), **_page_or_problem(404, 409, 422)},
)
async def approve(token: Token, request: Request, session: SessionDep, runtime: RuntimeDep) -> Any:
    """Approve: the run goes on past the approval step."""
    return await _decide("approved", token, request, session, runtime)


@router.post(
    "/{token}/reject",
    response_model=DecisionOut,
    openapi_extra=_DECISION_DOC,
    responses={**problem_responses(413, 415), **_page_or_problem(404, 409, 422)},
)
async def reject(token: Token, request: Request, session: SessionDep, runtime: RuntimeDep) -> Any:
    """Reject, with an optional comment: the step's ``on_reject`` decides what follows."""
    return await _decide("rejected", token, request, session, runtime)
