"""A workflow document's nodes as flat rows (ARCHITECTURE.md section 5), and back.

Pure functions, no database: :func:`flatten` turns a :class:`docg_core.workflow.Workflow`
into :class:`FlatNode` rows shaped like ``workflow_nodes``; :func:`unflatten` rebuilds the
document from such rows (or from :class:`~docg_server.models.WorkflowNode` rows).

The row layout:

- ``position`` is the node's index in depth-first document order over the whole workflow,
  so sorting by it gives back every path in order, and a branch's paths one after the other.
- ``node_type`` is the app key and ``action`` the action key (both null for structural nodes).
- ``structural_type`` is the node's ``type``: single, branch, paths or loop.
- ``config`` holds the rest of the node: ``name``, ``connection``, ``parameters``,
  ``continue_on_error`` (when set) and, for a loop, ``items``.
- ``branch_conditions`` (branch and paths nodes) lists each branch in order as
  ``{name, conditions, next_node_id}``; ``next_node_id`` is the first node of its path
  (null for an empty path).
- ``parent_node_id`` names the branch, paths or loop node a node sits directly inside, and
  ``branch_name`` the branch (null inside a loop and at the top level). Branch names need not
  be unique: the rows of a path are found from its ``next_node_id``, not from the name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from docg_core.workflow import Node, TriggerRef, Workflow

__all__ = ["FlatNode", "FlatNodeLike", "flatten", "unflatten"]


class FlatNodeLike(Protocol):
    """What :func:`unflatten` reads from a row (a :class:`FlatNode` or a ``WorkflowNode``)."""

    @property
    def node_id(self) -> str: ...
    @property
    def node_type(self) -> str | None: ...
    @property
    def action(self) -> str | None: ...
    @property
    def position(self) -> int: ...
    @property
    def config(self) -> dict[str, Any]: ...
    @property
    def structural_type(self) -> str: ...
    @property
    def branch_conditions(self) -> list[Any] | None: ...
    @property
    def parent_node_id(self) -> str | None: ...
    @property
    def branch_name(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class FlatNode:
    """One row of ``workflow_nodes`` (without the workflow id and the row's own id)."""

    node_id: str
    node_type: str | None
    action: str | None
    position: int
    config: dict[str, Any] = field(default_factory=dict)
    structural_type: str = "single"
    branch_conditions: list[Any] | None = None
    parent_node_id: str | None = None
    branch_name: str | None = None


def flatten(workflow: Workflow) -> list[FlatNode]:
    """Every node of ``workflow`` as a flat row, in depth-first document order."""
    rows: list[FlatNode] = []

    def add(nodes: Iterable[Node], parent: str | None, branch_name: str | None) -> None:
        for node in nodes:
            rows.append(_row(node, len(rows), parent, branch_name))
            for branch in node.branches:
                add(branch.nodes, node.id, branch.name)
            add(node.nodes, node.id, None)

    add(workflow.nodes, None, None)
    return rows


def _row(node: Node, position: int, parent: str | None, branch_name: str | None) -> FlatNode:
    config: dict[str, Any] = {}
    if node.name is not None:
        config["name"] = node.name
    if node.type == "single":
        if node.connection is not None:
            config["connection"] = node.connection
        config["parameters"] = node.parameters
    if node.type == "loop":
        config["items"] = node.items
    if node.continue_on_error:
        config["continue_on_error"] = True
    branch_conditions = None
    if node.type in ("branch", "paths"):
        branch_conditions = [
            {
                "name": branch.name,
                "conditions": branch.conditions,
                "next_node_id": branch.nodes[0].id if branch.nodes else None,
            }
            for branch in node.branches
        ]
    return FlatNode(
        node_id=node.id,
        node_type=node.app if node.type == "single" else None,
        action=node.action if node.type == "single" else None,
        position=position,
        config=config,
        structural_type=node.type,
        branch_conditions=branch_conditions,
        parent_node_id=parent,
        branch_name=branch_name,
    )


def unflatten(
    rows: Iterable[FlatNodeLike],
    *,
    name: str,
    description: str = "",
    trigger: TriggerRef | dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The workflow document (JSON-ready) whose nodes are ``rows``.

    The result holds only the fields each node type takes, so it passes
    :func:`docg_core.workflow.load_workflow` and can be sent back unchanged to be saved.
    ``ValueError`` if a row names a parent that is not among the rows.
    """
    ordered = sorted(rows, key=lambda row: row.position)
    documents: dict[str, dict[str, Any]] = {}
    # For each branch/paths node: the branch index each path's first node starts.
    path_starts: dict[str, dict[str, int]] = {}
    current_path: dict[str, int] = {}
    top: list[dict[str, Any]] = []
    for row in ordered:
        doc = _node_document(row)
        documents[row.node_id] = doc
        if row.structural_type in ("branch", "paths"):
            path_starts[row.node_id] = {
                b["next_node_id"]: i
                for i, b in enumerate(row.branch_conditions or [])
                if b.get("next_node_id") is not None
            }
        if row.parent_node_id is None:
            top.append(doc)
            continue
        parent = documents.get(row.parent_node_id)
        if parent is None:
            raise ValueError(
                f"node {row.node_id!r} names parent {row.parent_node_id!r}, "
                "which does not come before it"
            )
        if "branches" in parent:
            starts = path_starts[row.parent_node_id]
            if row.node_id in starts:
                current_path[row.parent_node_id] = starts[row.node_id]
            index = current_path.get(row.parent_node_id)
            if index is None:
                raise ValueError(f"node {row.node_id!r} is in no branch of {row.parent_node_id!r}")
            parent["branches"][index]["nodes"].append(doc)
        elif "nodes" in parent:
            parent["nodes"].append(doc)
        else:
            raise ValueError(f"node {row.node_id!r} names {row.parent_node_id!r}, a single node")

    document: dict[str, Any] = {"name": name, "description": description}
    if isinstance(trigger, TriggerRef):
        document["trigger"] = trigger.model_dump(mode="json", exclude_none=True)
    else:
        document["trigger"] = TriggerRef.model_validate(trigger or {}).model_dump(
            mode="json", exclude_none=True
        )
    document["nodes"] = top
    return document


def _node_document(row: FlatNodeLike) -> dict[str, Any]:
    config = row.config or {}
    doc: dict[str, Any] = {"id": row.node_id}
    if row.structural_type != "single":
        doc["type"] = row.structural_type
    if config.get("name") is not None:
        doc["name"] = config["name"]
    if row.structural_type == "single":
        doc["app"] = row.node_type
        doc["action"] = row.action
        if config.get("connection") is not None:
            doc["connection"] = config["connection"]
        doc["parameters"] = dict(config.get("parameters") or {})
    elif row.structural_type in ("branch", "paths"):
        doc["branches"] = [
            {"name": b["name"], "conditions": b.get("conditions"), "nodes": []}
            for b in row.branch_conditions or []
        ]
    else:  # loop
        doc["items"] = config.get("items")
        doc["nodes"] = []
    if config.get("continue_on_error"):
        doc["continue_on_error"] = True
    return doc
