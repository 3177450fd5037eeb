"""``/api/v1/workflows/{id}/nodes``: a workflow's nodes one at a time — list, append or insert,
replace, delete, reorder.

- The list holds the top-level nodes in order, each as the document's node (its branches'
  paths and loop body included), exactly as in the workflow detail.
- A node body is a :class:`docg_core.workflow.Node`. Append puts it at the end of the top
  level, or at ``?position=N`` (0-based) among the top-level nodes. Replace and delete find the
  node by id anywhere in the tree (delete removes its children with it); a replacement keeps
  its id (a different one is 422 ``validation-error``). Reorder takes ``{"order": [ids]}``, a
  permutation of the top-level ids.
- Every write rebuilds the document from the stored rows under the workflow's row lock,
  applies the change, validates the whole document like ``PUT /workflows/{id}`` (422
  ``invalid-workflow`` with ``problems``) and stores it the same way: ``version`` goes up by one.
- Unknown node id: 404. Reading is for every member; writing for owners and admins.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response
from pydantic import AfterValidator, BaseModel, ConfigDict
from sqlalchemy.orm import Session

from docg_core.plugins import Registry
from docg_core.workflow import Node, load_workflow
from docg_core.workflow import Workflow as WorkflowDocument

from ...errors import HTTPProblem, problem_responses
from ...models import Workflow
from ..deps import RegistryDep, SessionDep, WorkflowDep
from .workflows import (
    MAX_BRANCH_NAME_LENGTH,
    WorkflowEditor,
    check_document,
    lock_workflow,
    replace_document,
    stored_document,
)

__all__ = ["router"]

router = APIRouter(prefix="/workflows", tags=["nodes"], responses=problem_responses(401))


def _branch_names_fit(node: Node) -> Node:
    stack = [node]
    while stack:
        current = stack.pop()
        for branch in current.branches:
            if len(branch.name) > MAX_BRANCH_NAME_LENGTH:
                raise ValueError(
                    f"node {current.id!r}: branch names are at most "
                    f"{MAX_BRANCH_NAME_LENGTH} characters"
                )
        stack.extend(current.children())
    return node


NodeIn = Annotated[Node, AfterValidator(_branch_names_fit), Body()]


class NodeOrder(BaseModel):
    """The top-level node ids in their new order: each exactly once."""

    model_config = ConfigDict(extra="forbid")

    order: list[str]


# -- helpers -------------------------------------------------------------------------------


def _validation_error(field: str, location: str, message: str, code: str) -> HTTPProblem:
    return HTTPProblem(
        422,
        message,
        slug="validation-error",
        title="Your request is not valid",
        extensions={
            "errors": [{"location": location, "field": field, "message": message, "code": code}]
        },
    )


def _not_found(node_id: str) -> HTTPProblem:
    return HTTPProblem.not_found(f"there is no node {node_id!r} in this workflow")


def _locate(nodes: list[Node], node_id: str) -> tuple[list[Node], int] | None:
    """The list holding the node ``node_id`` (anywhere in the tree) and its index there."""
    for index, node in enumerate(nodes):
        if node.id == node_id:
            return nodes, index
        for inner in [*(branch.nodes for branch in node.branches), node.nodes]:
            found = _locate(inner, node_id)
            if found is not None:
                return found
    return None


def _load_locked(session: Session, workflow: Workflow) -> WorkflowDocument:
    """The stored document, read under the workflow's row lock."""
    lock_workflow(session, workflow)
    return load_workflow(stored_document(session, workflow))


def _save(
    session: Session, workflow: Workflow, document: WorkflowDocument, registry: Registry
) -> list[dict[str, Any]]:
    """Validate and store the changed document (version + 1); its top-level nodes."""
    try:
        check_document(document, registry)
    except HTTPProblem:
        session.rollback()
        raise
    replace_document(session, workflow, document, registry)
    session.commit()
    nodes: list[dict[str, Any]] = stored_document(session, workflow)["nodes"]
    return nodes


def _find_dict(nodes: list[dict[str, Any]], node_id: str) -> dict[str, Any]:
    for node in nodes:
        if node["id"] == node_id:
            return node
        inner = [*(b["nodes"] for b in node.get("branches", [])), node.get("nodes", [])]
        for children in inner:
            try:
                return _find_dict(children, node_id)
            except KeyError:
                continue
    raise KeyError(node_id)


# -- routes --------------------------------------------------------------------------------


@router.get(
    "/{workflow_id}/nodes",
    response_model=list[dict[str, Any]],
    responses=problem_responses(404, 422),
)
def list_nodes(workflow: WorkflowDep, session: SessionDep) -> list[dict[str, Any]]:
    """The workflow's top-level nodes in order, each with its nested paths or loop body."""
    nodes: list[dict[str, Any]] = stored_document(session, workflow)["nodes"]
    return nodes


@router.post(
    "/{workflow_id}/nodes",
    status_code=201,
    response_model=dict[str, Any],
    responses=problem_responses(403, 404, 422),
)
def add_node(
    body: NodeIn,
    workflow: WorkflowDep,
    session: SessionDep,
    registry: RegistryDep,
    _editor: WorkflowEditor,
    position: Annotated[int | None, Query(ge=0)] = None,
) -> dict[str, Any]:
    """Append a node to the top level, or insert it at ``position`` (0-based) there."""
    document = _load_locked(session, workflow)
    if position is not None and position > len(document.nodes):
        session.rollback()
        raise _validation_error(
            "position",
            "query",
            f"position {position} is past the end; the workflow has "
            f"{len(document.nodes)} top-level nodes",
            "position_out_of_range",
        )
    document.nodes.insert(len(document.nodes) if position is None else position, body)
    return _find_dict(_save(session, workflow, document, registry), body.id)


@router.post(
    "/{workflow_id}/nodes/reorder",
    response_model=list[dict[str, Any]],
    responses=problem_responses(403, 404, 422),
)
def reorder_nodes(
    body: NodeOrder,
    workflow: WorkflowDep,
    session: SessionDep,
    registry: RegistryDep,
    _editor: WorkflowEditor,
) -> list[dict[str, Any]]:
    """Put the top-level nodes in the order given; the nodes in their new order."""
    document = _load_locked(session, workflow)
    current = [node.id for node in document.nodes]
    missing = [node_id for node_id in current if node_id not in body.order]
    extra = [node_id for node_id in body.order if node_id not in current]
    repeated = sorted({node_id for node_id in body.order if body.order.count(node_id) > 1})
    if missing or extra or repeated:
        session.rollback()
        parts = []
        if missing:
            parts.append(f"missing {', '.join(map(repr, missing))}")
        if extra:
            parts.append(f"not top-level nodes {', '.join(map(repr, extra))}")
        if repeated:
            parts.append(f"repeated {', '.join(map(repr, repeated))}")
        raise _validation_error(
            "order",
            "body",
            "order must list each top-level node id once: " + "; ".join(parts),
            "not_a_permutation",
        )
    by_id = {node.id: node for node in document.nodes}
    document.nodes = [by_id[node_id] for node_id in body.order]
    return _save(session, workflow, document, registry)


@router.put(
    "/{workflow_id}/nodes/{node_id}",
    response_model=dict[str, Any],
    responses=problem_responses(403, 404, 422),
)
def replace_node(
    node_id: str,
    body: NodeIn,
    workflow: WorkflowDep,
    session: SessionDep,
    registry: RegistryDep,
    _editor: WorkflowEditor,
) -> dict[str, Any]:
    """Replace the node ``node_id`` wherever it is in the tree; its id may not change."""
    if body.id != node_id:
        raise _validation_error(
            "id",
            "body",
            f"a node's id cannot change: the body's id is {body.id!r}, not {node_id!r}",
            "id_changed",
        )
    document = _load_locked(session, workflow)
    found = _locate(document.nodes, node_id)
    if found is None:
        session.rollback()
        raise _not_found(node_id)
    siblings, index = found
    siblings[index] = body
    return _find_dict(_save(session, workflow, document, registry), node_id)


@router.delete(
    "/{workflow_id}/nodes/{node_id}",
    status_code=204,
    response_class=Response,
    responses=problem_responses(403, 404, 422),
)
def delete_node(
    node_id: str,
    workflow: WorkflowDep,
    session: SessionDep,
    registry: RegistryDep,
    _editor: WorkflowEditor,
) -> Response:
    """Remove the node ``node_id`` and everything inside it, wherever it is in the tree."""
    document = _load_locked(session, workflow)
    found = _locate(document.nodes, node_id)
    if found is None:
        session.rollback()
        raise _not_found(node_id)
    siblings, index = found
    del siblings[index]
    _save(session, workflow, document, registry)
    return Response(status_code=204)
