"""``/api/v1/workflows``: the organization's workflows — list, create, detail, update, delete,
activate, pause.

- The body of create and update is the workflow document of :mod:`docg_core.workflow`
  (``name``, ``description``, ``trigger``, ``nodes``) and nothing else. It is checked with
  :func:`docg_core.validation.check_workflow` against the server's registry; its problems
  answer 422 ``invalid-workflow`` with ``problems``: each ``{node_id, field, message}``.
- Nodes are stored flat in ``workflow_nodes`` (:mod:`docg_server.workflows.flat`); the detail
  rebuilds the document from those rows. The trigger is kept in ``workflows.definition``.
- Every member of the organization may read; only owners and admins may write (create,
  update, delete, activate, pause) — the same split as renaming the organization.
- The plan's ``workflows_limit`` is enforced atomically: creating locks the organization's row
  (a no-op UPDATE: a row lock on PostgreSQL, the write lock on SQLite) before counting, so
  concurrent creates can never pass the limit. Over it: 403 ``plan-limit-reached``.
- Status: draft and paused → active (``/activate``, validated again); active → paused
  (``/pause``). Any other transition answers 409 ``invalid-status-transition``.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.orm import Session

from docg_core.apps import TriggerType as CoreTriggerType
from docg_core.errors import PluginError
from docg_core.plugins import Registry
from docg_core.validation import check_workflow
from docg_core.workflow import Node, TriggerRef, load_workflow
from docg_core.workflow import Workflow as WorkflowDocument

from ...errors import HTTPProblem, problem_responses
from ...models import (
    Organization,
    Role,
    TriggerType,
    User,
    Workflow,
    WorkflowNode,
    WorkflowStatus,
)
from ...workflows.flat import flatten, unflatten
from ..deps import (
    CurrentOrg,
    RegistryDep,
    SessionDep,
    WorkflowDep,
    public_base_url,
    require_role,
)
from ..pagination import decode_cursor, encode_cursor

__all__ = [
    "WorkflowEditor",
    "check_document",
    "lock_workflow",
    "replace_document",
    "router",
    "stored_document",
]

router = APIRouter(prefix="/workflows", tags=["workflows"], responses=problem_responses(401))

WorkflowEditor = Annotated[User, Depends(require_role(Role.OWNER, Role.ADMIN))]

MAX_PAGE_SIZE = 100
MAX_BRANCH_NAME_LENGTH = 200  # workflow_nodes.branch_name


class WorkflowIn(BaseModel):
    """A workflow document: what ``docg run flow.yaml`` reads, as JSON."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    trigger: TriggerRef = Field(default_factory=TriggerRef)
    nodes: list[Node] = Field(default_factory=list)

    @model_validator(mode="after")
    def _branch_names_fit(self) -> WorkflowIn:
        document = self.as_document()
        for node in document.iter_nodes():
            for branch in node.branches:
                if len(branch.name) > MAX_BRANCH_NAME_LENGTH:
                    raise ValueError(
                        f"node {node.id!r}: branch names are at most "
                        f"{MAX_BRANCH_NAME_LENGTH} characters"
                    )
        return self

    def as_document(self) -> WorkflowDocument:
        return WorkflowDocument(
            name=self.name, description=self.description, trigger=self.trigger, nodes=self.nodes
        )


class WorkflowSummary(BaseModel):
    """A workflow in a list (its document only in the detail)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str | None
    status: str
    trigger_type: str
    version: int
    created_at: datetime
    updated_at: datetime


class WorkflowPage(BaseModel):
    items: list[WorkflowSummary]
    next_cursor: str | None = Field(
        description="Pass as ``cursor`` for the next page; null on the last page."
    )


class WorkflowOut(WorkflowSummary):
    """A workflow: its document (``name``, ``description``, ``trigger``, ``nodes``) and state."""

    trigger: dict[str, Any]
    nodes: list[dict[str, Any]]
    webhook_url: str = Field(
        description="POST here to start the workflow (with a webhook trigger); keep it secret."
    )


class WorkflowProblem(BaseModel):
    node_id: str | None
    field: str | None
    message: str


# -- helpers -------------------------------------------------------------------------------


def check_document(document: WorkflowDocument, registry: Registry) -> None:
    """422 ``invalid-workflow`` listing every problem of the document."""
    problems = check_workflow(document, registry)
    if problems:
        listed = [
            WorkflowProblem(node_id=p.node_id, field=p.field, message=p.message).model_dump()
            for p in problems
        ]
        raise HTTPProblem(
            422,
            f"the workflow has {len(problems)} problem(s); each names its node and field",
            slug="invalid-workflow",
            title="The workflow is not valid",
            extensions={"problems": listed},
        )


def _trigger_type(trigger: TriggerRef, registry: Registry) -> str:
    """The ``workflows.trigger_type`` of a (validated) trigger."""
    try:
        kind = registry.trigger(trigger.app, trigger.key).trigger_type
    except PluginError:  # pragma: no cover - validated before
        return TriggerType.MANUAL.value
    if kind == CoreTriggerType.WEBHOOK:
        return TriggerType.WEBHOOK.value
    if kind == CoreTriggerType.MANUAL:
        return TriggerType.MANUAL.value
    return TriggerType.SCHEDULED.value  # schedule and polling triggers run on a clock


def _store_document(
    session: Session, workflow: Workflow, document: WorkflowDocument, registry: Registry
) -> None:
    """Write the document onto the workflow row and its flat node rows (not committed)."""
    workflow.name = document.name
    workflow.description = document.description
    workflow.trigger_type = _trigger_type(document.trigger, registry)
    workflow.definition = {"trigger": document.trigger.model_dump(mode="json", exclude_none=True)}
    session.add_all(
        WorkflowNode(
            workflow_id=workflow.id,
            node_id=row.node_id,
            node_type=row.node_type,
            action=row.action,
            position=row.position,
            config=row.config,
            structural_type=row.structural_type,
            branch_conditions=row.branch_conditions,
            parent_node_id=row.parent_node_id,
            branch_name=row.branch_name,
        )
        for row in flatten(document)
    )


def replace_document(
    session: Session, workflow: Workflow, document: WorkflowDocument, registry: Registry
) -> None:
    """Replace the stored document of a (locked, validated) workflow and bump its version
    (not committed)."""
    session.execute(sa.delete(WorkflowNode).where(WorkflowNode.workflow_id == workflow.id))
    session.expire(workflow, ["nodes"])
    _store_document(session, workflow, document, registry)
    # In SQL, so two concurrent updates on SQLite (no FOR UPDATE there) cannot both write 2.
    workflow.version = Workflow.version + 1


def _node_rows(session: Session, workflow: Workflow) -> list[WorkflowNode]:
    return list(
        session.scalars(
            sa.select(WorkflowNode)
            .where(WorkflowNode.workflow_id == workflow.id)
            .order_by(WorkflowNode.position)
        )
    )


def stored_document(session: Session, workflow: Workflow) -> dict[str, Any]:
    return unflatten(
        _node_rows(session, workflow),
        name=workflow.name,
        description=workflow.description or "",
        trigger=workflow.definition.get("trigger"),
    )


def _out(session: Session, workflow: Workflow, request: Request) -> WorkflowOut:
    document = stored_document(session, workflow)
    base = public_base_url(request)
    return WorkflowOut(
        id=workflow.id,
        name=workflow.name,
        description=workflow.description,
        status=workflow.status,
        trigger_type=workflow.trigger_type,
        version=workflow.version,
        created_at=workflow.created_at,
        updated_at=workflow.updated_at,
        trigger=document["trigger"],
        nodes=document["nodes"],
        webhook_url=f"{base}/api/v1/webhooks/{workflow.id}/{workflow.webhook_token}",
    )


def _lock_organization(session: Session, org: Organization) -> int | None:
    """Serialise workflow creation in ``org``; its current ``workflows_limit``.

    A no-op UPDATE takes the row lock on PostgreSQL and the database write lock on SQLite, so
    the count that follows (a new statement, hence a fresh snapshot) sees every committed create.
    """
    session.execute(
        sa.update(Organization)
        .where(Organization.id == org.id)
        .values(workflows_limit=Organization.workflows_limit, updated_at=Organization.updated_at)
        .execution_options(synchronize_session=False)
    )
    limit: int | None = session.scalar(
        sa.select(Organization.workflows_limit).where(Organization.id == org.id)
    )
    return limit


def lock_workflow(session: Session, workflow: Workflow) -> None:
    """Re-read the workflow under a row lock (PostgreSQL), so concurrent writes queue."""
    session.refresh(workflow, with_for_update=True)


# -- routes --------------------------------------------------------------------------------


@router.get("", response_model=WorkflowPage, responses=problem_responses(422))
def list_workflows(
    session: SessionDep,
    org: CurrentOrg,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    status: Annotated[WorkflowStatus | None, Query()] = None,
) -> WorkflowPage:
    """The organization's workflows, newest first, ``limit`` at a time."""
    query = sa.select(Workflow).where(Workflow.organization_id == org.id)
    if status is not None:
        query = query.where(Workflow.status == status.value)
    if cursor is not None:
        created, ident = decode_cursor(cursor)
        query = query.where(
            sa.or_(
                Workflow.created_at < created,
                sa.and_(Workflow.created_at == created, Workflow.id < ident),
            )
        )
    query = query.order_by(Workflow.created_at.desc(), Workflow.id.desc()).limit(limit + 1)
    found = list(session.scalars(query))
    page = found[:limit]
    next_cursor = encode_cursor(page[-1].created_at, page[-1].id) if len(found) > limit else None
    return WorkflowPage(
        items=[WorkflowSummary.model_validate(w) for w in page], next_cursor=next_cursor
    )


@router.post(
    "",
    status_code=201,
    response_model=WorkflowOut,
    responses=problem_responses(403, 422),
)
def create_workflow(
    body: WorkflowIn,
    request: Request,
    session: SessionDep,
    org: CurrentOrg,
    registry: RegistryDep,
    _editor: WorkflowEditor,
) -> WorkflowOut:
    """Create a draft workflow from a document (owners and admins).

    403 ``plan-limit-reached`` when the organization already has its plan's number of
    workflows; 422 ``invalid-workflow`` listing each problem of the document.
    """
    document = body.as_document()
    check_document(document, registry)
    limit = _lock_organization(session, org)
    if limit is not None:
        count = session.scalar(
            sa.select(sa.func.count())
            .select_from(Workflow)
            .where(Workflow.organization_id == org.id)
        )
        if (count or 0) >= limit:
            session.rollback()
            raise HTTPProblem(
                403,
                f"the {org.plan} plan allows {limit} workflows and the organization has "
                f"{count}; delete one or upgrade the plan",
                slug="plan-limit-reached",
                title="Plan limit reached",
                extensions={"limit": "workflows_limit", "limit_value": limit, "plan": org.plan},
            )
    workflow = Workflow(
        id=uuid.uuid4(),
        organization_id=org.id,
        status=WorkflowStatus.DRAFT.value,
        webhook_token=secrets.token_urlsafe(32),
        version=1,
    )
    session.add(workflow)
    _store_document(session, workflow, document, registry)
    session.commit()
    return _out(session, workflow, request)


@router.get("/{workflow_id}", response_model=WorkflowOut, responses=problem_responses(404, 422))
def get_workflow(workflow: WorkflowDep, request: Request, session: SessionDep) -> WorkflowOut:
    """A workflow: its document rebuilt from the stored nodes, status, version, webhook URL."""
    return _out(session, workflow, request)


@router.put(
    "/{workflow_id}", response_model=WorkflowOut, responses=problem_responses(403, 404, 422)
)
def update_workflow(
    body: WorkflowIn,
    workflow: WorkflowDep,
    request: Request,
    session: SessionDep,
    registry: RegistryDep,
    _editor: WorkflowEditor,
) -> WorkflowOut:
    """Replace the workflow's document (owners and admins); its ``version`` goes up by one."""
    document = body.as_document()
    check_document(document, registry)
    lock_workflow(session, workflow)
    replace_document(session, workflow, document, registry)
    session.commit()
    return _out(session, workflow, request)


@router.delete(
    "/{workflow_id}",
    status_code=204,
    response_class=Response,
    responses=problem_responses(403, 404, 422),
)
def delete_workflow(
    workflow: WorkflowDep, session: SessionDep, _editor: WorkflowEditor
) -> Response:
    """Delete the workflow and its nodes (owners and admins)."""
    session.execute(sa.delete(Workflow).where(Workflow.id == workflow.id))
    session.commit()
    return Response(status_code=204)


def _transition(
    session: Session, workflow: Workflow, allowed_from: set[str], to: WorkflowStatus
) -> None:
    lock_workflow(session, workflow)
    if workflow.status not in allowed_from:
        session.rollback()
        raise HTTPProblem.conflict(
            f"a workflow that is {workflow.status} cannot become {to.value} "
            f"(only from {' or '.join(sorted(allowed_from))})",
            slug="invalid-status-transition",
        )
    workflow.status = to.value


@router.post(
    "/{workflow_id}/activate",
    response_model=WorkflowOut,
    responses=problem_responses(403, 404, 409, 422),
)
def activate_workflow(
    workflow: WorkflowDep,
    request: Request,
    session: SessionDep,
    registry: RegistryDep,
    _editor: WorkflowEditor,
) -> WorkflowOut:
    """Start accepting runs: draft or paused → active, after validating the document again
    (an app it uses may have been uninstalled since it was saved)."""
    check_document(load_workflow(stored_document(session, workflow)), registry)
    _transition(
        session,
        workflow,
        {WorkflowStatus.DRAFT.value, WorkflowStatus.PAUSED.value},
        WorkflowStatus.ACTIVE,
    )
    session.commit()
    return _out(session, workflow, request)


@router.post(
    "/{workflow_id}/pause",
    response_model=WorkflowOut,
    responses=problem_responses(403, 404, 409, 422),
)
def pause_workflow(
    workflow: WorkflowDep, request: Request, session: SessionDep, _editor: WorkflowEditor
) -> WorkflowOut:
    """Stop accepting runs: active → paused."""
    _transition(session, workflow, {WorkflowStatus.ACTIVE.value}, WorkflowStatus.PAUSED)
    session.commit()
    return _out(session, workflow, request)
