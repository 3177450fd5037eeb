"""docg_server.workflows.flat: a workflow document as flat rows (ARCHITECTURE §5), and back."""

from __future__ import annotations

import random
from typing import Any

import pytest
from server import workflow_docs as docs

from docg_core.workflow import load_workflow
from docg_server.workflows.flat import FlatNode, flatten, unflatten


def round_trip(document: dict[str, Any]) -> dict[str, Any]:
    workflow = load_workflow(document)
    rows = flatten(workflow)
    return unflatten(
        rows, name=workflow.name, description=workflow.description, trigger=workflow.trigger
    )


@pytest.mark.parametrize("make", [docs.simple, docs.branch, docs.paths, docs.loop])
def test_flatten_then_unflatten_gives_back_the_document(make: Any) -> None:
    document = make()
    rebuilt = round_trip(document)
    assert rebuilt == document
    assert load_workflow(rebuilt) == load_workflow(document)


@pytest.mark.parametrize("make", [docs.branch, docs.paths, docs.loop])
def test_unflatten_does_not_depend_on_the_order_of_the_rows(make: Any) -> None:
    workflow = load_workflow(make())
    rows = flatten(workflow)
    random.Random(7).shuffle(rows)
    assert (
        unflatten(
            rows, name=workflow.name, description=workflow.description, trigger=workflow.trigger
        )
        == make()
    )


def test_branch_rows_follow_the_flat_model() -> None:
    rows = {row.node_id: row for row in flatten(load_workflow(docs.branch()))}

    assert [r.node_id for r in sorted(rows.values(), key=lambda r: r.position)] == [
        "deal",
        "route",
        "big",
        "big_2",
        "small",
        "after",
    ]
    assert rows["deal"] == FlatNode(
        node_id="deal",
        node_type="formatter",
        action="text",
        position=0,
        config={"parameters": {"transform": "upper", "input": "{{trigger.name}}"}},
    )
    route = rows["route"]
    assert (route.node_type, route.action, route.structural_type) == (None, None, "branch")
    assert route.config == {"name": "Route by amount"}
    assert route.branch_conditions == [
        {
            "name": "Big deal",
            "conditions": docs.gt("{{trigger.amount}}", 10000),
            "next_node_id": "big",
        },
        {
            "name": "Nothing",
            "conditions": docs.gt("{{trigger.amount}}", 5000),
            "next_node_id": None,
        },
        {"name": "Default", "conditions": None, "next_node_id": "small"},
    ]
    assert (rows["big_2"].parent_node_id, rows["big_2"].branch_name) == ("route", "Big deal")
    assert rows["small"].config["continue_on_error"] is True
    assert (rows["after"].parent_node_id, rows["after"].branch_name) == (None, None)


def test_loop_rows_name_the_loop_as_parent_and_keep_items_in_config() -> None:
    rows = {row.node_id: row for row in flatten(load_workflow(docs.loop()))}
    assert rows["each"].structural_type == "loop"
    assert rows["each"].config == {"items": "{{trigger.rows}}"}
    assert (rows["row"].parent_node_id, rows["row"].branch_name) == ("each", None)
    assert (rows["long"].parent_node_id, rows["long"].branch_name) == ("inner", "Long")


def test_a_row_whose_parent_is_missing_is_an_error() -> None:
    orphan = FlatNode(
        node_id="x", node_type="formatter", action="text", position=0, parent_node_id="nowhere"
    )
    with pytest.raises(ValueError, match="nowhere"):
        unflatten([orphan], name="x")
