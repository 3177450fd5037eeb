"""Save-time validation of a workflow against a registry: every problem, each with its node."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .apps import ActionArgument
from .conditions import check_conditions
from .errors import PluginError, Problem, ValidationError
from .plugins import Registry
from .variables import iter_references
from .workflow import Node, Workflow

__all__ = ["check_workflow", "validate_workflow"]


def validate_workflow(workflow: Workflow, registry: Registry) -> None:
    """Raise :class:`ValidationError` listing every problem :func:`check_workflow` finds."""
    problems = check_workflow(workflow, registry)
    if problems:
        raise ValidationError(problems)


def check_workflow(workflow: Workflow, registry: Registry) -> list[Problem]:
    """Every problem of the workflow: duplicate ids, unknown apps/actions/triggers/operators,
    bad or missing arguments, and ``{{step.X}}`` naming a step that cannot have run before."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for node in workflow.iter_nodes():
        if node.id in seen:
            problems.append(Problem("duplicate node id", node.id))
        seen.add(node.id)

    trigger = workflow.trigger
    try:
        trigger_cls = registry.trigger(trigger.app, trigger.key)
    except PluginError as exc:
        problems.append(Problem(str(exc), None, "trigger"))
    else:
        problems += _check_arguments(
            trigger_cls.arguments, trigger.parameters, trigger_cls.check_parameters, None, "trigger"
        )
        problems += _check_refs(
            trigger.parameters, frozenset(), None, in_loop=False, where="trigger"
        )

    _walk(workflow.nodes, frozenset(), registry, problems, in_loop=False)
    return problems


def _walk(
    nodes: Iterable[Node],
    available: frozenset[str],
    registry: Registry,
    problems: list[Problem],
    *,
    in_loop: bool,
) -> frozenset[str]:
    """Check ``nodes`` in order; return the node ids that may have run after them."""
    for node in nodes:
        if node.type == "single":
            problems += _check_single(node, registry)
            problems += _check_refs(node.parameters, available, node.id, in_loop=in_loop)
            available |= {node.id}
        elif node.type in ("branch", "paths"):
            ran: set[str] = set()
            inner = available
            for i, branch in enumerate(node.branches):
                for message in (
                    check_conditions(branch.conditions) if branch.conditions is not None else []
                ):
                    problems.append(Problem(message, node.id, f"branches[{i}].conditions"))
                problems += _check_refs(branch.conditions, available, node.id, in_loop=in_loop)
                # In `paths` mode earlier matching paths have run; in `branch` mode at most one.
                after = _walk(
                    branch.nodes,
                    (inner if node.type == "paths" else available) | {node.id},
                    registry,
                    problems,
                    in_loop=in_loop,
                )
                ran |= after
                if node.type == "paths":
                    inner = after
            available |= ran | {node.id}
        else:  # loop
            problems += _check_refs(node.items, available, node.id, in_loop=in_loop, where="items")
            after = _walk(node.nodes, available, registry, problems, in_loop=True)
            available = after | {node.id}
    return available


def _check_single(node: Node, registry: Registry) -> list[Problem]:
    assert node.app is not None and node.action is not None  # guaranteed by Node's validator
    try:
        action = registry.action(node.app, node.action)
    except PluginError as exc:
        return [Problem(str(exc), node.id, "action" if node.app in registry else "app")]
    return _check_arguments(
        action.arguments, node.parameters, action.check_parameters, node.id, "parameters"
    )


def _check_arguments(
    arguments: Iterable[ActionArgument],
    parameters: Mapping[str, Any],
    extra_check: Any,
    node_id: str | None,
    where: str,
) -> list[Problem]:
    problems: list[Problem] = []
    declared = {a.key: a for a in arguments}
    for key in parameters:
        if key not in declared:
            hint = f" (expected one of: {', '.join(declared)})" if declared else ""
            problems.append(Problem(f"unknown argument{hint}", node_id, key))
    for arg in declared.values():
        value = parameters.get(arg.key)
        if value is None or value == "":
            if arg.required and arg.default is None:
                problems.append(Problem(f"{arg.label} is required", node_id, arg.key))
            continue
        if _has_variables(value):
            if not arg.variables:
                problems.append(Problem("variables are not allowed here", node_id, arg.key))
            continue
        try:
            arg.coerce(value)
        except ValueError as exc:
            problems.append(Problem(str(exc), node_id, arg.key))
    for message in extra_check(parameters):
        key, _, rest = message.partition(":")
        if rest and key in declared:
            problems.append(Problem(rest.strip(), node_id, key))
        else:
            problems.append(Problem(message, node_id, where))
    return problems


def _has_variables(value: Any) -> bool:
    return next(iter_references(value), None) is not None


def _check_refs(
    value: Any,
    available: frozenset[str],
    node_id: str | None,
    *,
    in_loop: bool,
    where: str = "parameters",
) -> list[Problem]:
    problems: list[Problem] = []
    for ref in iter_references(value):
        root, _, rest = ref.partition(".")
        if root == "step":
            step_id = rest.split(".", 1)[0]
            if step_id == node_id:
                problems.append(Problem(f"{{{{{ref}}}}} refers to the node itself", node_id, where))
            elif step_id not in available:
                problems.append(
                    Problem(
                        f"{{{{{ref}}}}} names step {step_id!r}, which cannot have run before "
                        "this node",
                        node_id,
                        where,
                    )
                )
        elif root == "loop" and not in_loop:
            problems.append(
                Problem(f"{{{{{ref}}}}} is only available inside a loop", node_id, where)
            )
        elif root not in _ROOTS:
            problems.append(
                Problem(
                    f"{{{{{ref}}}}}: unknown variable (expected step., trigger., flow., "
                    "execution., env., loop., now or uuid)",
                    node_id,
                    where,
                )
            )
    return problems


_ROOTS = frozenset({"step", "trigger", "flow", "execution", "env", "loop", "now", "uuid"})
