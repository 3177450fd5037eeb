"""Property tests of the {{...}} resolver."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from docg_core.variables import compute_parameters, iter_references

quick = settings(database=None, deadline=None)

text_without_braces = st.text(max_size=30).filter(lambda s: "{{" not in s)
json_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
)


def json_like(scalars: st.SearchStrategy[Any], keys: st.SearchStrategy[str]) -> Any:
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4)
        ),
        max_leaves=20,
    )


json_values = json_like(json_scalars, st.text(max_size=10))
structures_without_braces = json_like(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text_without_braces,
    text_without_braces,
)
names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,12}", fullmatch=True)


@quick
@given(structures_without_braces, json_values)
def test_structure_without_braces_is_returned_equal(params: Any, trigger: Any) -> None:
    assert compute_parameters(params, {"trigger": trigger}) == params


@quick
@given(structures_without_braces)
def test_resolving_never_changes_the_input(params: Any) -> None:
    before = copy.deepcopy(params)
    compute_parameters({"p": params, "r": "{{trigger}} {{trigger.x}}"}, {"trigger": params})
    assert params == before


@quick
@given(structures_without_braces)
def test_structure_without_braces_has_no_references(params: Any) -> None:
    assert list(iter_references(params)) == []


@quick
@given(json_values)
def test_whole_trigger_reference_round_trips_any_json_value(value: Any) -> None:
    assert compute_parameters("{{trigger}}", {"trigger": value}) == value


@quick
@given(names, json_values)
def test_whole_step_reference_round_trips_any_json_value(key: str, value: Any) -> None:
    scope = {"step": {"node-1": {"data": {key: value}, "raw": None, "metadata": {}}}}
    assert compute_parameters(f"{{{{ step.node-1.{key} }}}}", scope, strict=True) == value


@quick
@given(st.lists(json_values, min_size=1, max_size=5), st.data())
def test_list_index_reference_round_trips_the_item(items: list[Any], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(items) - 1))
    assert (
        compute_parameters(f"{{{{loop.item[{index}]}}}}", {"loop": {"item": items}})
        == (items[index])
    )


plain_text = st.text(st.characters(exclude_characters="{}\\"), max_size=20)


@quick
@given(st.text(max_size=20), plain_text, plain_text)
def test_string_value_is_inserted_into_text_verbatim(value: str, before: str, after: str) -> None:
    # The value is never resolved again, even when it holds braces itself.
    template = f"{before}{{{{trigger.v}}}}{after}"
    assert compute_parameters(template, {"trigger": {"v": value}}) == before + value + after


@quick
@given(st.text(max_size=30).filter(lambda s: "{{" not in s and not s.endswith("{")))
def test_escaped_braces_are_kept_literally(content: str) -> None:
    assert compute_parameters(f"\\{{{{{content}}}}}", {"trigger": {}}) == f"{{{{{content}}}}}"


@quick
@given(names, json_values)
def test_missing_path_is_none_and_empty_in_text(key: str, trigger: Any) -> None:
    scope = {"trigger": {"present": trigger}}
    assert compute_parameters(f"{{{{trigger.absent_{key}}}}}", scope) is None
    assert compute_parameters(f"<{{{{trigger.absent_{key}}}}}>", scope) == "<>"
