"""``/api/v1/workflows/{id}/runs``: a workflow's runs — list, detail, start, test, cancel.

- A run is an execution of the engine, stored in the server's database
  (:mod:`docg_server.runtime`); the detail lists every step with ``data_in`` (secrets
  masked), ``data_out``, ``error`` and timings, and for a waiting approval its public
  ``approval_url``.
- Starting answers ``202`` with the run as it is then; ``?wait=N`` (up to 30 s) waits for it
  to finish or pause first. A draft or active workflow may be run by hand; a paused or archived
  one answers 409.
- Every member may read, start, test and cancel runs. Another organization's workflow or run
  answers 404, exactly like an unknown one.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request

from docg_core.errors import ExecutionNotFound, ValidationError
from docg_core.records import ExecutionRecord
from docg_core.workflow import Workflow as WorkflowDocument
from docg_core.workflow import load_workflow

from ...errors import HTTPProblem, problem_responses
from ...models import Workflow, WorkflowStatus
from ...models.engine import executions
from ...runtime import Runtime
from ..deps import CurrentOrg, RuntimeDep, SessionDep, WorkflowDep, public_base_url
from .runs_models import RunIn, RunOut, RunPage, TestRunIn, run_out, run_summary
from .workflows import stored_document

__all__ = [
    "MAX_WAIT_SECONDS",
    "cached_engine_workflow",
    "engine_workflow",
    "invalid_run",
    "owned_run",
    "router",
]

router = APIRouter(
    prefix="/workflows/{workflow_id}/runs", tags=["runs"], responses=problem_responses(401, 404)
)

MAX_WAIT_SECONDS = 30
MAX_PAGE_SIZE = 100
_SUMMARY_COLUMNS = (
    "id",
    "flow_id",
    "flow_name",
    "organization_id",
    "status",
    "test_run",
    "error",
    "started_at",
    "completed_at",
)
RUNNABLE = frozenset({WorkflowStatus.DRAFT.value, WorkflowStatus.ACTIVE.value})


_DOCUMENTS: OrderedDict[tuple[uuid.UUID, int], WorkflowDocument] = OrderedDict()
_DOCUMENTS_LOCK = threading.Lock()
DOCUMENT_CACHE_SIZE = 512


def cached_engine_workflow(workflow_id: uuid.UUID, version: int) -> WorkflowDocument | None:
    """The engine document of ``workflow_id`` at ``version`` if it was built already."""
    key = (workflow_id, version)
    with _DOCUMENTS_LOCK:
        cached = _DOCUMENTS.get(key)
        if cached is not None:
            _DOCUMENTS.move_to_end(key)
        return cached


def engine_workflow(session: SessionDep, workflow: Workflow) -> WorkflowDocument:
    """The stored workflow as the engine's document, carrying its id and version.

    Every change to a workflow's document raises its version, so documents are kept per
    ``(id, version)``: webhooks and schedules skip reading and validating the nodes again.
    The document returned is shared; the engine only reads it.
    """
    cached = cached_engine_workflow(workflow.id, workflow.version)
    if cached is not None:
        return cached
    document = load_workflow(stored_document(session, workflow)).model_copy(
        update={"id": str(workflow.id), "version": workflow.version}
    )
    with _DOCUMENTS_LOCK:
        _DOCUMENTS[(workflow.id, workflow.version)] = document
        while len(_DOCUMENTS) > DOCUMENT_CACHE_SIZE:
            _DOCUMENTS.popitem(last=False)
    return document


def _runnable(workflow: WorkflowDep, session: SessionDep) -> tuple[Workflow, WorkflowDocument]:
    if workflow.status not in RUNNABLE:
        raise HTTPProblem.conflict(
            f"a {workflow.status} workflow cannot be run; activate it first",
            slug="workflow-not-runnable",
        )
    return workflow, engine_workflow(session, workflow)


Runnable = Annotated[tuple[Workflow, WorkflowDocument], Depends(_runnable)]
WaitSeconds = Annotated[
    float,
    Query(
        ge=0,
        le=MAX_WAIT_SECONDS,
        description="Wait up to this many seconds for the run to finish or pause before answering.",
    ),
]


def invalid_run(error: ValidationError) -> HTTPProblem:
    """422 ``invalid-workflow`` listing each problem the engine found."""
    return HTTPProblem(
        422,
        f"the run cannot start: {len(error.problems)} problem(s); each names its node and field",
        slug="invalid-workflow",
        title="The workflow is not valid",
        extensions={"problems": [p.to_dict() for p in error.problems]},
    )


async def owned_run(
    runtime: Runtime, run_id: str, workflow: Workflow, org_id: str
) -> ExecutionRecord:
    try:
        execution = await runtime.store.get_execution(run_id)
    except ExecutionNotFound:
        execution = None
    if (
        execution is None
        or execution.organization_id != org_id
        or execution.flow_id != str(workflow.id)
    ):
        raise HTTPProblem.not_found(f"there is no run {run_id} of this workflow")
    return execution


async def _start(
    runtime: Runtime,
    workflow: Workflow,
    document: WorkflowDocument,
    body: RunIn,
    wait: float,
    *,
    until_step: str | None = None,
    mock_data: dict[str, object] | None = None,
    test_run: bool = False,
) -> ExecutionRecord:
    try:
        started = await runtime.runner.start(
            document,
            body.data,
            organization_id=str(workflow.organization_id),
            until_step=until_step,
            mock_data=mock_data,
            test_run=test_run or None,
        )
    except ValidationError as exc:
        raise invalid_run(exc) from None
    if wait > 0:
        return await runtime.runner.wait(started.id, timeout=wait)
    return await runtime.store.get_execution(started.id)


@router.get("", response_model=RunPage, responses=problem_responses(422))
def list_runs(
    workflow: WorkflowDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    cursor: Annotated[str | None, Query(max_length=40, pattern=r"^\d+$")] = None,
    status: Annotated[
        Literal["running", "waiting", "completed", "failed", "cancelled"] | None, Query()
    ] = None,
) -> RunPage:
    """The workflow's runs, newest first, ``limit`` at a time; ``status`` filters."""
    columns = [executions.c[name] for name in _SUMMARY_COLUMNS]
    query = sa.select(executions.c.seq, *columns).where(
        executions.c.organization_id == str(workflow.organization_id),
        executions.c.flow_id == str(workflow.id),
    )
    if status is not None:
        query = query.where(executions.c.status == status)
    if cursor is not None:
        query = query.where(executions.c.seq < int(cursor))
    rows = session.execute(query.order_by(executions.c.seq.desc()).limit(limit + 1)).all()
    page = rows[:limit]
    items = [
        run_summary(
            ExecutionRecord.model_validate(dict(zip(_SUMMARY_COLUMNS, row[1:], strict=True)))
        )
        for row in page
    ]
    next_cursor = str(page[-1].seq) if len(rows) > limit else None
    return RunPage(items=items, next_cursor=next_cursor)


@router.post("", status_code=202, response_model=RunOut, responses=problem_responses(409, 422))
async def start_run(
    body: RunIn,
    runnable: Runnable,
    runtime: RuntimeDep,
    request: Request,
    wait: WaitSeconds = 0,
) -> RunOut:
    """Start a run with ``data`` as the trigger data; 422 ``invalid-workflow`` if it cannot."""
    workflow, document = runnable
    execution = await _start(runtime, workflow, document, body, wait)
    return run_out(execution, public_base_url(request))


@router.post("/test", status_code=202, response_model=RunOut, responses=problem_responses(409, 422))
async def start_test_run(
    body: TestRunIn,
    runnable: Runnable,
    runtime: RuntimeDep,
    request: Request,
    wait: WaitSeconds = 0,
) -> RunOut:
    """A test run: stops after ``until_step``; nodes in ``mock_data`` are not run, their
    given output is used instead (a mocked document generation uses no quota)."""
    workflow, document = runnable
    execution = await _start(
        runtime,
        workflow,
        document,
        body,
        wait,
        until_step=body.until_step,
        mock_data=body.mock_data or None,
        test_run=True,
    )
    return run_out(execution, public_base_url(request))


@router.get("/{run_id}", response_model=RunOut, responses=problem_responses(422))
async def get_run(
    run_id: str, workflow: WorkflowDep, org: CurrentOrg, runtime: RuntimeDep, request: Request
) -> RunOut:
    """A run with every step in order."""
    execution = await owned_run(runtime, run_id, workflow, str(org.id))
    return run_out(execution, public_base_url(request))


@router.post("/{run_id}/cancel", response_model=RunOut, responses=problem_responses(422))
async def cancel_run(
    run_id: str, workflow: WorkflowDep, org: CurrentOrg, runtime: RuntimeDep, request: Request
) -> RunOut:
    """Cancel a running or waiting run; a finished one is answered unchanged."""
    await owned_run(runtime, run_id, workflow, str(org.id))
    execution = await runtime.runner.cancel(run_id)
    return run_out(execution, public_base_url(request))
