"""The workflow document and its save-time validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.apps import TestPlugin

from docg_core.errors import ValidationError
from docg_core.plugins import get_registry
from docg_core.validation import check_workflow
from docg_core.workflow import Workflow, load_workflow

REGISTRY = get_registry(extra=[TestPlugin()])
EXAMPLES = Path(__file__).parents[2] / "docs" / "examples"


def problems(doc: dict[str, object]) -> list[str]:
    return [str(p) for p in check_workflow(load_workflow({"name": "t", **doc}), REGISTRY)]


def echo(node_id: str, **parameters: object) -> dict[str, object]:
    return {"id": node_id, "app": "t", "action": "echo", "parameters": parameters}


def test_yaml_and_json_files_load_the_same_workflow(tmp_path: Path) -> None:
    doc = {
        "name": "x",
        "trigger": {"app": "webhook", "key": "catch-hook"},
        "nodes": [echo("a", value=1)],
    }
    (tmp_path / "f.json").write_text(json.dumps(doc))
    import yaml

    (tmp_path / "f.yaml").write_text(yaml.safe_dump(doc))
    assert Workflow.from_file(tmp_path / "f.json") == Workflow.from_file(tmp_path / "f.yaml")


def test_a_workflow_without_trigger_uses_manual() -> None:
    wf = load_workflow({"name": "x", "nodes": []})
    assert (wf.trigger.app, wf.trigger.key) == ("manual", "manual")


def test_shape_errors_name_the_node() -> None:
    doc = {
        "name": "x",
        "nodes": [
            echo("ok"),
            {
                "id": "route",
                "type": "branch",
                "branches": [{"name": "b", "nodes": [{"id": "inner", "app": "t"}]}],
            },
            {"id": "bad id!", "app": "t", "action": "echo"},
        ],
    }
    with pytest.raises(ValidationError) as info:
        load_workflow(doc)
    found = {(p.node_id, p.message) for p in info.value.problems}
    assert ("inner", "a single node needs both 'app' and 'action'") in found
    assert any(node == "bad id!" and "pattern" in message for node, message in found)


def test_unknown_fields_are_rejected() -> None:
    with pytest.raises(ValidationError, match="paramters"):
        load_workflow(
            {"name": "x", "nodes": [{"id": "a", "app": "t", "action": "echo", "paramters": {}}]}
        )


def test_a_step_variable_must_name_a_step_that_ran_before() -> None:
    found = problems(
        {
            "nodes": [
                echo("a", value="{{step.b.x}}"),
                echo("b", value="{{step.a.x}}"),
                echo("c", value="{{step.c.x}}"),
            ]
        }
    )
    assert found == [
        "node 'a': 'parameters': {{step.b.x}} names step 'b', which cannot have run before this node",
        "node 'c': 'parameters': {{step.c.x}} refers to the node itself",
    ]


def test_sibling_branches_cannot_see_each_other_but_later_nodes_can() -> None:
    route = {
        "id": "route",
        "type": "branch",
        "branches": [
            {"name": "one", "nodes": [echo("one")]},
            {"name": "two", "nodes": [echo("two", value="{{step.one.value}}")]},
        ],
    }
    found = problems(
        {
            "nodes": [
                route,
                echo("after", value="{{step.one.value}}{{step.two.value}}{{step.route.branches}}"),
            ]
        }
    )
    assert found == [
        "node 'two': 'parameters': {{step.one.value}} names step 'one', which cannot have run before this node"
    ]


def test_in_paths_mode_later_paths_see_earlier_ones() -> None:
    fan = {
        "id": "fan",
        "type": "paths",
        "branches": [
            {"name": "one", "nodes": [echo("one")]},
            {"name": "two", "nodes": [echo("two", value="{{step.one.value}}")]},
        ],
    }
    assert problems({"nodes": [fan]}) == []


def test_loop_variables_only_inside_loops() -> None:
    loop = {
        "id": "each",
        "type": "loop",
        "items": "{{trigger.items}}",
        "nodes": [echo("in", value="{{loop.item}}")],
    }
    found = problems({"nodes": [loop, echo("out", value="{{loop.index}}")]})
    assert found == ["node 'out': 'parameters': {{loop.index}} is only available inside a loop"]


def test_unknown_operator_and_variable_roots_are_reported() -> None:
    route = {
        "id": "route",
        "type": "branch",
        "branches": [
            {
                "name": "x",
                "conditions": {
                    "type": "and",
                    "rules": [{"field": "{{trigger.a}}", "operator": "equals", "value": 1}],
                },
                "nodes": [],
            },
        ],
    }
    found = problems({"nodes": [route, echo("a", value="{{secrets.key}}")]})
    assert any("route" in p and "equals" in p for p in found)
    assert any("node 'a'" in p and "unknown variable" in p for p in found)


def test_arguments_are_checked_at_save_time() -> None:
    found = problems(
        {
            "nodes": [
                echo("a", count="many", bogus=1),
                echo("b", count="{{trigger.n}}"),
                {"id": "c", "app": "approval", "action": "request-approval", "parameters": {}},
            ]
        }
    )
    assert any("node 'a': 'count': expected a number" in p for p in found)
    assert any("node 'a': 'bogus': unknown argument" in p for p in found)
    assert not any("node 'b'" in p for p in found)
    assert any("node 'c': 'title': Title is required" in p for p in found)


def test_trigger_parameters_are_checked() -> None:
    found = problems(
        {
            "trigger": {"app": "schedule", "key": "cron", "parameters": {"cron": "every day"}},
            "nodes": [],
        }
    )
    assert len(found) == 1 and "cron" in found[0]
    (unknown,) = problems({"trigger": {"app": "nope", "key": "x"}, "nodes": []})
    assert unknown.startswith("'trigger': unknown app 'nope'")


def test_every_example_workflow_is_valid() -> None:
    files = sorted(EXAMPLES.rglob("*.yaml"))
    assert files
    # The example plugin is checked in tests/docs.
    registry = get_registry(plugins=["documents", "hubspot", "clicksign", "zapsign", "ai"])
    for path in files:
        if path.parent.name == "plugin":
            continue
        assert check_workflow(Workflow.from_file(path), registry) == [], path
