"""The {{...}} resolver: every form of ARCHITECTURE section 6, rendering, strict mode, caching."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

import pytest

from docg_core import variables
from docg_core.errors import VariableError
from docg_core.variables import (
    clear_template_cache,
    compute_parameters,
    iter_references,
    template_cache_info,
)


@pytest.fixture
def scope() -> dict[str, Any]:
    return {
        "trigger": {"deal_id": "42", "portal": 7, "tags": ["a", "b"], "name": "Ana"},
        "step": {
            "deal": {
                "data": {
                    "amount": 1500.5,
                    "count": 3,
                    "won": True,
                    "lost": False,
                    "note": None,
                    "properties": {"dealname": "Acme", "owner": {"name": "João"}},
                    "items": [{"name": "first"}, {"name": "second"}],
                    "0": "zero key",
                    "first name": "Maria",
                    "a.b": "dotted key",
                    "data": {"inner": "data inside data"},
                },
                "raw": {"status": 200, "body": {"id": "raw-id"}},
                "metadata": {"took_ms": 12},
            },
            "get-contact": {"data": {"email": "ana@example.com"}, "raw": None, "metadata": {}},
        },
        "flow": {"id": "wf1", "name": "Contracts"},
        "execution": {"id": "ex1", "test_run": True},
        "env": {"COMPANY": "DocG"},
        "loop": {"item": {"name": "Bea", "tags": ["x"]}, "index": 2},
    }


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    clear_template_cache()
    yield
    clear_template_cache()


# --- Forms ------------------------------------------------------------------------------------


def test_step_path_reads_the_steps_data(scope: dict[str, Any]) -> None:
    assert compute_parameters("{{step.deal.properties.dealname}}", scope) == "Acme"


def test_step_id_may_contain_a_dash(scope: dict[str, Any]) -> None:
    assert compute_parameters("{{step.get-contact.email}}", scope) == "ana@example.com"


def test_step_raw_path_reads_the_raw_response(scope: dict[str, Any]) -> None:
    assert compute_parameters("{{step.deal.raw.body.id}}", scope) == "raw-id"


def test_step_metadata_path_reads_the_metadata(scope: dict[str, Any]) -> None:
    assert compute_parameters("{{step.deal.metadata.took_ms}}", scope) == 12


def test_whole_step_reference_returns_its_data(scope: dict[str, Any]) -> None:
    assert compute_parameters("{{step.deal}}", scope) == scope["step"]["deal"]["data"]


def test_step_raw_without_a_path_returns_the_whole_raw_response(scope: dict[str, Any]) -> None:
    assert compute_parameters("{{step.deal.raw}}", scope) == {
        "status": 200,
        "body": {"id": "raw-id"},
    }


def test_step_data_segment_is_a_key_inside_data(scope: dict[str, Any]) -> None:
    # Only raw and metadata are special after the step id; "data" is an ordinary key.
    assert compute_parameters("{{step.deal.data.inner}}", scope) == "data inside data"


def test_trigger_path_reads_the_trigger_output(scope: dict[str, Any]) -> None:
    assert compute_parameters("{{trigger.deal_id}}", scope) == "42"


def test_whole_trigger_reference_returns_the_trigger_output(scope: dict[str, Any]) -> None:
    assert compute_parameters("{{trigger}}", scope) == scope["trigger"]


def test_flow_and_execution_paths_read_their_metadata(scope: dict[str, Any]) -> None:
    assert compute_parameters(["{{flow.name}}", "{{execution.test_run}}"], scope) == [
        "Contracts",
        True,
    ]


def test_env_variable_in_scope_resolves(scope: dict[str, Any]) -> None:
    assert compute_parameters("{{env.COMPANY}}", scope) == "DocG"


def test_env_variable_not_in_scope_is_missing_even_if_the_process_has_it(
    scope: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCG_SECRET_FOR_TEST", "leak")
    assert compute_parameters("{{env.DOCG_SECRET_FOR_TEST}}", scope) is None


def test_loop_item_and_index_resolve(scope: dict[str, Any]) -> None:
    assert compute_parameters("{{loop.index}}", scope) == 2
    assert compute_parameters("{{loop.item}}", scope) == {"name": "Bea", "tags": ["x"]}


def test_loop_item_deeper_path_resolves(scope: dict[str, Any]) -> None:
    assert compute_parameters("{{loop.item.name}}", scope) == "Bea"


def test_list_index_with_a_dot(scope: dict[str, Any]) -> None:
    assert compute_parameters("{{step.deal.items.1.name}}", scope) == "second"


def test_list_index_with_brackets(scope: dict[str, Any]) -> None:
    assert compute_parameters("{{step.deal.items[1].name}}", scope) == "second"


def test_list_index_as_the_last_segment(scope: dict[str, Any]) -> None:
    assert compute_parameters("{{trigger.tags[1]}}", scope) == "b"


def test_negative_list_index_counts_from_the_end(scope: dict[str, Any]) -> None:
    assert compute_parameters("{{step.deal.items[-1].name}}", scope) == "second"


def test_list_index_out_of_range_is_missing(scope: dict[str, Any]) -> None:
    assert compute_parameters("{{step.deal.items[5].name}}", scope) is None


def test_numeric_segment_on_a_mapping_reads_the_string_key(scope: dict[str, Any]) -> None:
    assert compute_parameters("{{step.deal.0}}", scope) == "zero key"


def test_quoted_bracket_key_may_hold_spaces_and_dots(scope: dict[str, Any]) -> None:
    assert compute_parameters('{{step.deal["first name"]}}', scope) == "Maria"
    assert compute_parameters("{{step.deal['a.b']}}", scope) == "dotted key"


def test_spaces_inside_the_braces_are_ignored(scope: dict[str, Any]) -> None:
    assert compute_parameters("{{  step . deal .properties [ 'dealname' ]  }}", scope) == "Acme"


def test_integer_index_on_a_string_is_missing_not_a_character(scope: dict[str, Any]) -> None:
    assert compute_parameters("{{trigger.name.0}}", scope) is None
    assert compute_parameters("{{trigger.name[0]}}", scope) is None


def test_path_through_a_scalar_is_missing(scope: dict[str, Any]) -> None:
    assert compute_parameters("{{step.deal.count.value}}", scope) is None


def test_unknown_root_is_missing(scope: dict[str, Any]) -> None:
    assert compute_parameters("{{secrets.db_password}}", scope) is None


def test_scope_may_be_any_mapping(scope: dict[str, Any]) -> None:
    frozen = MappingProxyType({"trigger": MappingProxyType({"x": 1})})
    assert compute_parameters(["{{trigger.x}}", "n={{trigger.x}}"], frozen) == [1, "n=1"]


def test_unicode_key_names_resolve() -> None:
    assert compute_parameters("{{trigger.razão_social}}", {"trigger": {"razão_social": "X"}}) == "X"


# --- Whole values keep their type -------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{step.deal.amount}}", 1500.5),
        ("{{step.deal.count}}", 3),
        ("{{step.deal.won}}", True),
        ("{{step.deal.lost}}", False),
        ("{{step.deal.note}}", None),
        ("{{step.deal.properties.owner}}", {"name": "João"}),
        ("{{trigger.tags}}", ["a", "b"]),
    ],
)
def test_whole_value_reference_keeps_the_value_type(
    scope: dict[str, Any], template: str, expected: Any
) -> None:
    result = compute_parameters(template, scope)
    assert result == expected
    assert type(result) is type(expected)


def test_whole_value_container_is_a_copy_of_the_scope(scope: dict[str, Any]) -> None:
    result = compute_parameters("{{step.deal.items}}", scope)
    result[0]["name"] = "changed"
    result.append("more")
    assert scope["step"]["deal"]["data"]["items"] == [{"name": "first"}, {"name": "second"}]


def test_whole_value_with_surrounding_text_is_rendered_as_text(scope: dict[str, Any]) -> None:
    assert compute_parameters(" {{step.deal.count}}", scope) == " 3"


# --- Rendering inside text --------------------------------------------------------------------


def test_several_placeholders_in_text(scope: dict[str, Any]) -> None:
    template = "Deal {{step.deal.properties.dealname}} for {{trigger.name}} ({{flow.id}})"
    assert compute_parameters(template, scope) == "Deal Acme for Ana (wf1)"


def test_dict_in_text_is_compact_json_keeping_non_ascii(scope: dict[str, Any]) -> None:
    assert compute_parameters("o={{step.deal.properties.owner}}", scope) == 'o={"name":"João"}'


def test_list_in_text_is_compact_json(scope: dict[str, Any]) -> None:
    assert compute_parameters("t={{trigger.tags}}", scope) == 't=["a","b"]'


def test_none_in_text_is_empty(scope: dict[str, Any]) -> None:
    assert compute_parameters("[{{step.deal.note}}]", scope) == "[]"


def test_booleans_in_text_are_lowercase(scope: dict[str, Any]) -> None:
    assert compute_parameters("{{step.deal.won}}/{{step.deal.lost}}", scope) == "true/false"


def test_numbers_in_text_are_written_as_python_writes_them(scope: dict[str, Any]) -> None:
    assert compute_parameters("{{step.deal.amount}} x {{step.deal.count}}", scope) == "1500.5 x 3"


def test_datetime_in_text_is_iso_8601() -> None:
    moment = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    assert compute_parameters("at {{trigger.at}}", {"trigger": {"at": moment}}) == (
        "at 2024-05-01T12:30:00+00:00"
    )


def test_text_with_many_placeholders_resolves_each() -> None:
    scope = {"trigger": {f"k{i}": i for i in range(30)}}
    template = ",".join(f"{{{{trigger.k{i}}}}}" for i in range(30))
    assert compute_parameters(template, scope) == ",".join(str(i) for i in range(30))


def test_resolved_text_is_not_resolved_again() -> None:
    scope = {"trigger": {"a": "{{trigger.b}}", "b": "secret"}}
    assert compute_parameters("x {{trigger.a}}", scope) == "x {{trigger.b}}"
    assert compute_parameters("{{trigger.a}}", scope) == "{{trigger.b}}"


# --- Missing paths and strict mode ------------------------------------------------------------


def test_missing_whole_value_is_none(scope: dict[str, Any]) -> None:
    assert compute_parameters("{{step.deal.nope}}", scope) is None


def test_missing_value_in_text_is_empty(scope: dict[str, Any]) -> None:
    assert compute_parameters("a{{step.deal.nope}}b", scope) == "ab"


def test_step_that_has_not_run_is_missing(scope: dict[str, Any]) -> None:
    assert compute_parameters("{{step.later.x}}", scope) is None


def test_strict_missing_whole_value_raises_naming_the_path(scope: dict[str, Any]) -> None:
    with pytest.raises(VariableError) as info:
        compute_parameters("{{step.deal.nope}}", scope, strict=True)
    assert info.value.path == "step.deal.nope"
    assert "step.deal.nope" in str(info.value)


def test_strict_missing_value_in_text_raises(scope: dict[str, Any]) -> None:
    with pytest.raises(VariableError, match=r"trigger\.missing"):
        compute_parameters("Hello {{trigger.missing}}!", scope, strict=True)


def test_strict_error_names_the_normalised_path(scope: dict[str, Any]) -> None:
    with pytest.raises(VariableError) as info:
        compute_parameters({"a": ["{{ step.deal.items[9].name }}"]}, scope, strict=True)
    assert info.value.path == "step.deal.items.9.name"


def test_strict_missing_env_variable_raises(scope: dict[str, Any]) -> None:
    with pytest.raises(VariableError):
        compute_parameters("{{env.HOME}}", scope, strict=True)


def test_strict_accepts_a_value_that_is_none(scope: dict[str, Any]) -> None:
    assert compute_parameters("{{step.deal.note}}", scope, strict=True) is None
    assert compute_parameters("<{{step.deal.note}}>", scope, strict=True) == "<>"


def test_strict_mode_resolves_present_values_normally(scope: dict[str, Any]) -> None:
    assert compute_parameters("{{trigger.deal_id}}", scope, strict=True) == "42"


# --- Escaping and what is not a placeholder ---------------------------------------------------


def test_backslash_before_braces_is_a_literal(scope: dict[str, Any]) -> None:
    assert compute_parameters(r"\{{trigger.deal_id}}", scope) == "{{trigger.deal_id}}"


def test_escaped_and_real_placeholders_in_one_string(scope: dict[str, Any]) -> None:
    template = r"use \{{trigger.deal_id}} to get {{trigger.deal_id}}"
    assert compute_parameters(template, scope) == "use {{trigger.deal_id}} to get 42"


def test_escaped_placeholder_is_not_missing_in_strict_mode(scope: dict[str, Any]) -> None:
    assert compute_parameters(r"\{{nope}}", scope, strict=True) == "{{nope}}"


def test_content_that_is_not_a_path_is_left_as_is(scope: dict[str, Any]) -> None:
    template = "{{ name | upper }} and {{trigger.name}}"
    assert compute_parameters(template, scope) == "{{ name | upper }} and Ana"


def test_code_is_never_evaluated(scope: dict[str, Any]) -> None:
    template = "{{__import__('os').system('echo hi')}}"
    assert compute_parameters(template, scope) == template


def test_dunder_attributes_are_not_reachable(scope: dict[str, Any]) -> None:
    assert compute_parameters("{{trigger.__class__}}", scope) is None


def test_unclosed_braces_are_literal(scope: dict[str, Any]) -> None:
    assert compute_parameters("a {{trigger.name", scope) == "a {{trigger.name"


def test_empty_braces_are_literal(scope: dict[str, Any]) -> None:
    assert compute_parameters("{{}} {{ }}", scope) == "{{}} {{ }}"


def test_triple_braces_keep_the_outer_brace(scope: dict[str, Any]) -> None:
    assert compute_parameters("{{{trigger.name}}}", scope) == "{Ana}"


# --- Walking structures -----------------------------------------------------------------------


def test_nested_structure_is_resolved_throughout(scope: dict[str, Any]) -> None:
    params = {
        "a": {"b": ["{{trigger.portal}}", {"c": "id={{trigger.deal_id}}"}]},
        "n": 5,
        "f": 1.5,
        "t": True,
        "z": None,
    }
    assert compute_parameters(params, scope) == {
        "a": {"b": [7, {"c": "id=42"}]},
        "n": 5,
        "f": 1.5,
        "t": True,
        "z": None,
    }


def test_input_structure_is_never_mutated(scope: dict[str, Any]) -> None:
    params = {"a": ["{{trigger.portal}}", {"b": "{{trigger.name}}"}], "c": "plain"}
    before = copy.deepcopy(params)
    result = compute_parameters(params, scope)
    assert params == before
    assert result is not params
    assert result["a"] is not params["a"]


def test_dict_keys_are_not_resolved(scope: dict[str, Any]) -> None:
    assert compute_parameters({"{{trigger.name}}": "{{trigger.name}}"}, scope) == {
        "{{trigger.name}}": "Ana"
    }


def test_tuples_are_resolved_into_tuples(scope: dict[str, Any]) -> None:
    assert compute_parameters(("{{trigger.portal}}", "x"), scope) == (7, "x")


def test_other_objects_are_returned_unchanged(scope: dict[str, Any]) -> None:
    marker = object()
    assert compute_parameters({"m": marker}, scope)["m"] is marker


def test_top_level_scalar_is_returned_unchanged(scope: dict[str, Any]) -> None:
    assert compute_parameters(12, scope) == 12
    assert compute_parameters(None, scope) is None


# --- now and uuid -----------------------------------------------------------------------------


def test_now_is_an_iso_8601_utc_timestamp() -> None:
    before = datetime.now(UTC)
    value = compute_parameters("{{now}}", {})
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=1) <= parsed <= datetime.now(UTC) + timedelta(seconds=1)


def test_now_uses_a_callable_from_the_scope() -> None:
    assert compute_parameters("at {{now}}", {"now": lambda: "2024-01-01T00:00:00+00:00"}) == (
        "at 2024-01-01T00:00:00+00:00"
    )


def test_now_uses_a_fixed_string_from_the_scope() -> None:
    assert compute_parameters("{{now}}", {"now": "2024-01-01T00:00:00Z"}) == "2024-01-01T00:00:00Z"


def test_now_from_a_datetime_in_the_scope_is_given_in_utc() -> None:
    moment = datetime(2024, 1, 1, 3, 0, tzinfo=timezone(timedelta(hours=3)))
    assert compute_parameters("{{now}}", {"now": moment}) == "2024-01-01T00:00:00+00:00"


def test_uuid_is_a_uuid4() -> None:
    value = compute_parameters("{{uuid}}", {})
    assert uuid.UUID(value).version == 4


def test_uuid_is_fresh_for_each_occurrence() -> None:
    first, second = compute_parameters("{{uuid}} {{uuid}}", {}).split()
    assert first != second
    assert compute_parameters("{{uuid}}", {}) != compute_parameters("{{uuid}}", {})


def test_uuid_uses_a_callable_from_the_scope_for_deterministic_replays() -> None:
    ids = iter(["id-1", "id-2"])
    assert compute_parameters(["{{uuid}}", "{{uuid}}"], {"uuid": lambda: next(ids)}) == [
        "id-1",
        "id-2",
    ]


# --- Caching ----------------------------------------------------------------------------------


def test_same_template_is_compiled_once(scope: dict[str, Any]) -> None:
    params = {"a": "{{trigger.name}}", "b": "{{trigger.name}}"}
    compute_parameters(params, scope)
    compute_parameters(params, scope)
    assert template_cache_info().compiled == 1


def test_each_distinct_template_is_compiled(scope: dict[str, Any]) -> None:
    compute_parameters(["{{trigger.name}}", "x {{trigger.name}}", "plain"], scope)
    info = template_cache_info()
    assert info.compiled == 2
    assert info.currsize == 2


def test_strings_without_braces_are_not_cached(scope: dict[str, Any]) -> None:
    compute_parameters({"a": "plain text", "b": "more"}, scope)
    assert template_cache_info().currsize == 0


def test_cache_is_bounded(scope: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(variables, "_CACHE_MAXSIZE", 3)
    for i in range(10):
        assert compute_parameters(f"{i}:{{{{trigger.name}}}}", scope) == f"{i}:Ana"
    info = template_cache_info()
    assert info.compiled == 10
    assert info.currsize == 3


def test_cached_template_resolves_against_each_new_scope() -> None:
    assert compute_parameters("{{trigger.x}}", {"trigger": {"x": 1}}) == 1
    assert compute_parameters("{{trigger.x}}", {"trigger": {"x": 2}}) == 2
    assert compute_parameters("{{trigger.x}}", {"trigger": {}}) is None


def test_clear_template_cache_resets_the_counter(scope: dict[str, Any]) -> None:
    compute_parameters("{{trigger.name}}", scope)
    clear_template_cache()
    assert template_cache_info().compiled == 0
    assert template_cache_info().currsize == 0


# --- iter_references --------------------------------------------------------------------------


def test_iter_references_lists_paths_in_normalised_dotted_form() -> None:
    params = {
        "a": "{{ step.deal.items[0].name }}",
        "b": ["x {{trigger.x}} y {{now}}", {"c": "{{uuid}}"}],
        "d": "{{step.get-contact['first name']}}",
    }
    assert list(iter_references(params)) == [
        "step.deal.items.0.name",
        "trigger.x",
        "now",
        "uuid",
        "step.get-contact.first name",
    ]


def test_iter_references_excludes_escaped_and_non_path_braces() -> None:
    assert list(iter_references([r"\{{step.a.b}}", "{{ a | upper }}", "{{}}", "plain"])) == []


def test_iter_references_yields_each_occurrence() -> None:
    assert list(iter_references("{{flow.id}}{{flow.id}}")) == ["flow.id", "flow.id"]


def test_iter_references_ignores_dict_keys_and_non_strings() -> None:
    assert list(iter_references({"{{trigger.k}}": 1, "n": None, "t": ("{{env.X}}",)})) == ["env.X"]


def test_iter_references_of_a_step_reads_as_written_without_data() -> None:
    assert list(iter_references("{{step.deal}} {{step.deal.raw.id}}")) == [
        "step.deal",
        "step.deal.raw.id",
    ]


def test_resolved_output_is_json_serialisable(scope: dict[str, Any]) -> None:
    params = {"all": "{{step.deal}}", "text": "{{step.deal}}", "id": "{{uuid}}"}
    json.dumps(compute_parameters(params, scope))
