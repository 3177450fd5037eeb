"""Workflow documents shared by the workflow tests: valid against the built-in apps."""

from __future__ import annotations

from typing import Any


def upper(node_id: str, value: str = "{{trigger.name}}", **extra: Any) -> dict[str, Any]:
    """A single node: the built-in formatter's text action."""
    return {
        "id": node_id,
        "app": "formatter",
        "action": "text",
        "parameters": {"transform": "upper", "input": value},
        **extra,
    }


def gt(field: str, value: Any) -> dict[str, Any]:
    return {"type": "and", "rules": [{"field": field, "operator": ">", "value": value}]}


def simple(name: str = "Simple") -> dict[str, Any]:
    return {
        "name": name,
        "description": "one step",
        "trigger": {"app": "webhook", "key": "catch-hook", "parameters": {}},
        "nodes": [upper("shout")],
    }


def branch() -> dict[str, Any]:
    return {
        "name": "Contract for won deals",
        "description": "routes on the amount",
        "trigger": {"app": "webhook", "key": "catch-hook", "parameters": {}},
        "nodes": [
            upper("deal"),
            {
                "id": "route",
                "name": "Route by amount",
                "type": "branch",
                "branches": [
                    {
                        "name": "Big deal",
                        "conditions": gt("{{trigger.amount}}", 10000),
                        "nodes": [upper("big", "{{step.deal.result}}"), upper("big_2")],
                    },
                    {"name": "Nothing", "conditions": gt("{{trigger.amount}}", 5000), "nodes": []},
                    {
                        "name": "Default",
                        "conditions": None,
                        "nodes": [upper("small", continue_on_error=True)],
                    },
                ],
            },
            upper("after", "{{step.route}}"),
        ],
    }


def paths() -> dict[str, Any]:
    return {
        "name": "Paths",
        "description": "",
        "trigger": {"app": "manual", "key": "manual", "parameters": {}},
        "nodes": [
            {
                "id": "fan_out",
                "type": "paths",
                "branches": [
                    # Two paths with the same name: rows are grouped by next_node_id.
                    {"name": "Same", "conditions": None, "nodes": [upper("p1")]},
                    {"name": "Same", "conditions": None, "nodes": [upper("p2", "{{step.p1}}")]},
                ],
            }
        ],
    }


def loop() -> dict[str, Any]:
    return {
        "name": "Loop",
        "description": "",
        "trigger": {"app": "manual", "key": "manual", "parameters": {}},
        "nodes": [
            {
                "id": "each",
                "type": "loop",
                "items": "{{trigger.rows}}",
                "nodes": [
                    upper("row", "{{loop.item}}"),
                    {
                        "id": "inner",
                        "type": "branch",
                        "branches": [
                            {
                                "name": "Long",
                                "conditions": gt("{{loop.index}}", 3),
                                "nodes": [upper("long", "{{step.row}}")],
                            }
                        ],
                    },
                ],
            },
            upper("done", "{{step.each}}"),
        ],
    }


def approval_node(node_id: str = "ok", **parameters: Any) -> dict[str, Any]:
    """The built-in approval app's request-approval action."""
    return {
        "id": node_id,
        "app": "approval",
        "action": "request-approval",
        "parameters": {"title": "Contract for {{trigger.name}}", **parameters},
    }


def approval(name: str = "Needs approval") -> dict[str, Any]:
    return {
        "name": name,
        "description": "waits for a person",
        "trigger": {"app": "webhook", "key": "catch-hook", "parameters": {}},
        "nodes": [upper("shout"), approval_node(), upper("after", "{{step.ok.decision}}")],
    }
