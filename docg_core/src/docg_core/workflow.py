"""The workflow document (YAML or JSON): a trigger and a tree of nodes.

``Workflow.model_validate(doc)`` / ``Workflow.from_file(path)`` check the shape;
:func:`validate_workflow` checks it against a registry (apps, actions, arguments, operators,
variables) and reports every problem with the node id it concerns.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic import ValidationError as PydanticValidationError

from .errors import Problem, ValidationError

__all__ = ["Branch", "Node", "TriggerRef", "Workflow", "load_workflow"]

NodeType = Literal["single", "branch", "paths", "loop"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TriggerRef(_Model):
    """What starts the workflow: an app's trigger and its parameters."""

    app: str = "manual"
    key: str = "manual"
    connection: str | None = None
    """The connection whose credentials the trigger uses (polling, webhook signatures)."""
    parameters: dict[str, Any] = Field(default_factory=dict)


class Branch(_Model):
    """One path of a ``branch`` or ``paths`` node: its conditions (None = always) and nodes."""

    name: str
    conditions: dict[str, Any] | None = None
    nodes: list[Node] = Field(default_factory=list)


_STRUCTURE_FIELDS = frozenset(
    {"app", "action", "connection", "parameters", "branches", "items", "nodes"}
)
_ALLOWED_FIELDS: dict[str, frozenset[str]] = {
    "single": frozenset({"app", "action", "connection", "parameters"}),
    "branch": frozenset({"branches"}),
    "paths": frozenset({"branches"}),
    "loop": frozenset({"items", "nodes"}),
}


class Node(_Model):
    """A step of the workflow.

    ``single`` runs ``app``/``action`` with ``parameters``; ``branch`` runs the nodes of the
    first matching branch, ``paths`` those of every matching branch; ``loop`` runs ``nodes``
    once per element of ``items``.
    """

    id: str = Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_-]*$", max_length=100)
    name: str | None = None
    type: NodeType = "single"
    app: str | None = None
    action: str | None = None
    connection: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    branches: list[Branch] = Field(default_factory=list)
    items: Any = None
    nodes: list[Node] = Field(default_factory=list)
    continue_on_error: bool = False

    @model_validator(mode="after")
    def _check_shape(self) -> Node:
        extra = (self.model_fields_set & _STRUCTURE_FIELDS) - _ALLOWED_FIELDS[self.type]
        if extra:
            names = ", ".join(repr(f) for f in sorted(extra))
            raise ValueError(f"a {self.type} node does not take {names}")
        if self.type == "single" and (not self.app or not self.action):
            raise ValueError("a single node needs both 'app' and 'action'")
        if self.type in ("branch", "paths") and not self.branches:
            raise ValueError(f"a {self.type} node needs at least one branch")
        if self.type == "loop" and self.items is None:
            raise ValueError("a loop node needs 'items' (a list or a {{variable}} naming one)")
        return self

    def children(self) -> Iterator[Node]:
        """The nodes directly inside this one (branch paths in order, or the loop body)."""
        for branch in self.branches:
            yield from branch.nodes
        yield from self.nodes


class Workflow(_Model):
    """A workflow document. Nodes run in order; see the workflow format guide."""

    id: str | None = None
    name: str
    description: str = ""
    version: int = 1
    trigger: TriggerRef = Field(default_factory=TriggerRef)
    nodes: list[Node] = Field(default_factory=list)

    @classmethod
    def from_file(cls, path: str | Path) -> Workflow:
        """Load a ``.yaml``, ``.yml`` or ``.json`` file; :class:`ValidationError` lists problems."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValidationError(f"cannot read {path}: {exc.strerror or exc}") from None
        return load_workflow(_parse(text, path.name))

    def iter_nodes(self) -> Iterator[Node]:
        """Every node, depth first, in document order."""
        stack = list(reversed(self.nodes))
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(list(node.children())))

    def node(self, node_id: str) -> Node | None:
        return next((n for n in self.iter_nodes() if n.id == node_id), None)


def _parse(text: str, source: str) -> Any:
    if source.endswith(".json"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError(
                f"{source}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
            ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ValidationError(f"{source}: invalid YAML{where}: {problem}") from None


def load_workflow(doc: Any) -> Workflow:
    """Build a :class:`Workflow` from a parsed document, or raise :class:`ValidationError`
    listing every shape problem with the id of the node it is in."""
    if not isinstance(doc, Mapping):
        raise ValidationError("a workflow must be a mapping with at least 'name' and 'nodes'")
    try:
        return Workflow.model_validate(doc)
    except PydanticValidationError as exc:
        raise ValidationError([_problem(doc, err) for err in exc.errors()]) from None


def _problem(doc: Any, err: Mapping[str, Any]) -> Problem:
    """Map a pydantic error location (``nodes.2.branches.0.nodes.1.app``) to node id + field."""
    node_id: str | None = None
    field: list[str] = []
    current: Any = doc
    for part in err["loc"]:
        if isinstance(current, Mapping):
            current = current.get(part)
        elif isinstance(current, list) and isinstance(part, int) and part < len(current):
            current = current[part]
        else:
            current = None
        field.append(str(part))
        if (
            isinstance(part, int)
            and isinstance(current, Mapping)
            and isinstance(current.get("id"), str)
        ):
            node_id, field = current["id"], []
    message = str(err["msg"]).removeprefix("Value error, ")
    return Problem(message, node_id, ".".join(field) or None)
