"""Branch conditions: the twelve operators, comparison rules, groups, branches, save-time checks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from docg_core.conditions import (
    OPERATORS,
    check_conditions,
    evaluate_conditions,
    select_branches,
)

SCOPE: dict[str, Any] = {
    "trigger": {
        "amount": 15000,
        "amount_text": "15000.00",
        "name": "Acme Ltda",
        "tags": ["vip", "Enterprise", 42],
        "empty_list": [],
        "empty_dict": {},
        "blank": "",
        "none": None,
        "closed": "2024-05-01T12:00:00Z",
        "owner": {"id": 7},
        "won": True,
    },
    "step": {"deal": {"data": {"stage": "closedwon", "count": "3"}, "raw": {}, "metadata": {}}},
}


def rule(field: Any, operator: str, value: Any = None, **extra: Any) -> dict[str, Any]:
    return {
        "type": "and",
        "rules": [{"field": field, "operator": operator, "value": value, **extra}],
    }


def holds(field: Any, operator: str, value: Any = None, **extra: Any) -> bool:
    return evaluate_conditions(rule(field, operator, value, **extra), SCOPE)


def holds_values(left: Any, operator: str, right: Any, **extra: Any) -> bool:
    """Compare two values exactly as given (placed in the scope, so no text conversion)."""
    scope = {"trigger": {"left": left, "right": right}}
    group = rule("{{trigger.left}}", operator, "{{trigger.right}}", **extra)
    return evaluate_conditions(group, scope)


# --- Operators --------------------------------------------------------------------------------


def test_operators_are_the_twelve_of_the_contract() -> None:
    assert {
        "==",
        "!=",
        ">",
        "<",
        ">=",
        "<=",
        "contains",
        "not_contains",
        "starts_with",
        "ends_with",
        "is_empty",
        "is_not_empty",
    } == OPERATORS


def test_equals_resolves_the_field_variable() -> None:
    assert holds("{{step.deal.stage}}", "==", "closedwon")


def test_equals_resolves_the_value_variable() -> None:
    assert holds("closedwon", "==", "{{step.deal.stage}}")


def test_not_equals_on_different_strings() -> None:
    assert holds("{{step.deal.stage}}", "!=", "closedlost")


def test_greater_than_on_numbers() -> None:
    assert holds("{{trigger.amount}}", ">", 10000)
    assert not holds("{{trigger.amount}}", ">", 15000)


def test_less_than_on_numbers() -> None:
    assert holds("{{trigger.amount}}", "<", 20000)


def test_greater_or_equal_includes_equality() -> None:
    assert holds("{{trigger.amount}}", ">=", 15000)


def test_less_or_equal_includes_equality() -> None:
    assert holds("{{trigger.amount}}", "<=", 15000)
    assert not holds("{{trigger.amount}}", "<=", 14999.99)


def test_contains_substring() -> None:
    assert holds("{{trigger.name}}", "contains", "Ltda")


def test_contains_list_item() -> None:
    assert holds("{{trigger.tags}}", "contains", "vip")


def test_not_contains_substring() -> None:
    assert holds("{{trigger.name}}", "not_contains", "S.A.")


def test_starts_with() -> None:
    assert holds("{{trigger.name}}", "starts_with", "Acme")
    assert not holds("{{trigger.name}}", "starts_with", "Ltda")


def test_ends_with() -> None:
    assert holds("{{trigger.name}}", "ends_with", "Ltda")
    assert not holds("{{trigger.name}}", "ends_with", "Acme")


@pytest.mark.parametrize(
    "field",
    ["{{trigger.none}}", "{{trigger.blank}}", "{{trigger.empty_list}}", "{{trigger.empty_dict}}"],
)
def test_is_empty_on_none_blank_and_empty_containers(field: str) -> None:
    assert holds(field, "is_empty")


def test_missing_variable_is_empty() -> None:
    assert holds("{{trigger.does_not_exist}}", "is_empty")


@pytest.mark.parametrize("value", [0, False, " ", "0", [None]])
def test_zero_false_and_whitespace_are_not_empty(value: Any) -> None:
    assert holds_values(value, "is_not_empty", None)


def test_is_not_empty_on_a_value() -> None:
    assert holds("{{trigger.name}}", "is_not_empty")


# --- Numbers ----------------------------------------------------------------------------------


def test_numeric_string_equals_number() -> None:
    assert holds("{{trigger.amount_text}}", "==", 15000)


def test_numeric_strings_compare_as_numbers_not_text() -> None:
    assert holds_values("9", "<", "10")


def test_numeric_string_with_spaces_sign_and_exponent_is_a_number() -> None:
    assert holds_values(" -2.5 ", "<", 0)
    assert holds_values("1e3", "==", 1000)


def test_int_equals_float_of_the_same_value() -> None:
    assert holds_values(3, "==", 3.0)


def test_float_equals_its_decimal_text() -> None:
    assert holds_values(0.1, "==", "0.1")


def test_decimal_compares_with_numbers() -> None:
    assert holds_values(Decimal("10.50"), "==", "10.5")
    assert holds_values(Decimal("10.50"), ">", 10)


def test_large_integers_compare_exactly() -> None:
    assert holds_values(str(2**70), "!=", str(2**70 + 1))
    assert holds_values(2**70 + 1, ">", str(2**70))


def test_nan_equals_nothing_and_orders_with_nothing() -> None:
    nan = float("nan")
    assert not holds_values(nan, "==", nan)
    assert holds_values(nan, "!=", nan)
    assert not holds_values(nan, ">", 1)
    assert not holds_values(nan, "<=", 1)


def test_text_that_only_looks_numeric_is_a_string() -> None:
    assert not holds_values("1.234,56", "==", 1234.56)
    assert not holds_values("12abc", ">", 5)


# --- Dates ------------------------------------------------------------------------------------


def test_same_instant_in_different_offsets_is_equal() -> None:
    assert holds_values("2024-05-01T12:00:00Z", "==", "2024-05-01T09:00:00-03:00")


def test_dates_order_by_instant_not_by_text() -> None:
    # Text order would say the first is earlier; as instants it is three hours later.
    assert holds_values("2024-05-01T10:00:00-03:00", ">", "2024-05-01T12:00:00+00:00")


def test_naive_datetime_is_taken_as_utc() -> None:
    assert holds_values("2024-05-01T12:00:00", "==", "2024-05-01T12:00:00+00:00")
    assert holds_values("2024-05-01T12:00:00", "<", "2024-05-01T12:00:00-01:00")


def test_date_alone_is_midnight_utc() -> None:
    assert holds_values("2024-05-01", "==", "2024-05-01T00:00:00Z")
    assert holds_values("2024-05-01", "<", "2024-05-01T00:00:01Z")


def test_field_date_compares_with_a_date_value() -> None:
    assert holds("{{trigger.closed}}", ">", "2024-01-01")
    assert holds("{{trigger.closed}}", "<=", "2024-12-31")


def test_datetime_objects_compare_with_iso_strings() -> None:
    moment = datetime(2024, 5, 1, 15, 0, tzinfo=timezone(timedelta(hours=3)))
    assert holds_values(moment, "==", "2024-05-01T12:00:00Z")
    assert holds_values(date(2024, 5, 1), "<", datetime(2024, 5, 1, 1, tzinfo=UTC))


def test_date_and_plain_text_do_not_compare() -> None:
    assert not holds_values("2024-05-01", "<", "zebra")
    assert not holds_values("2024-05-01", ">=", "zebra")


# --- Strings and case -------------------------------------------------------------------------


def test_strings_order_by_code_point() -> None:
    assert holds_values("apple", "<", "banana")
    assert holds_values("Zebra", "<", "apple")


def test_equality_is_case_sensitive_by_default() -> None:
    assert not holds_values("ACME", "==", "acme")


def test_case_insensitive_equality_folds_case() -> None:
    assert holds_values("STRASSE", "==", "straße", case_sensitive=False)


def test_case_insensitive_ordering_folds_case() -> None:
    assert holds_values("Zebra", ">", "apple", case_sensitive=False)


def test_case_insensitive_contains_on_strings_and_lists() -> None:
    assert holds("{{trigger.name}}", "contains", "LTDA", case_sensitive=False)
    assert holds("{{trigger.tags}}", "contains", "enterprise", case_sensitive=False)
    assert not holds("{{trigger.tags}}", "contains", "enterprise")


def test_case_insensitive_starts_and_ends_with() -> None:
    assert holds("{{trigger.name}}", "starts_with", "acme", case_sensitive=False)
    assert holds("{{trigger.name}}", "ends_with", "LTDA", case_sensitive=False)


# --- contains ---------------------------------------------------------------------------------


def test_list_contains_a_number_given_as_a_numeric_string() -> None:
    assert holds("{{trigger.tags}}", "contains", "42")


def test_string_contains_a_number_written_as_text() -> None:
    assert holds_values("Order 12345", "contains", 234)


def test_list_contains_a_nested_list() -> None:
    assert holds_values([[1, 2], [3]], "contains", [1, 2])


def test_contains_on_a_number_or_none_is_false() -> None:
    assert not holds_values(12345, "contains", "23")
    assert not holds_values(None, "contains", "x")
    assert holds_values(None, "not_contains", "x")


def test_contains_on_a_dict_is_false() -> None:
    assert not holds("{{trigger.owner}}", "contains", "id")


def test_starts_with_on_a_number_uses_its_text() -> None:
    assert holds_values(12345, "starts_with", "12")


def test_starts_with_on_a_list_is_false() -> None:
    assert not holds_values(["a"], "starts_with", "a")


# --- Mixed and odd data -----------------------------------------------------------------------


def test_dict_and_number_are_unequal() -> None:
    assert not holds("{{trigger.owner}}", "==", 7)
    assert holds("{{trigger.owner}}", "!=", 7)


@pytest.mark.parametrize("operator", [">", "<", ">=", "<="])
def test_ordering_a_dict_against_a_number_is_false(operator: str) -> None:
    assert not holds("{{trigger.owner}}", operator, 7)


@pytest.mark.parametrize("operator", [">", "<", ">=", "<="])
def test_ordering_text_against_a_number_is_false(operator: str) -> None:
    assert not holds_values("abc", operator, 5)


def test_date_and_number_are_unequal() -> None:
    assert not holds_values("2024-05-01", "==", 20240501)


def test_none_equals_none() -> None:
    assert holds_values(None, "==", None)


def test_none_and_empty_string_are_unequal() -> None:
    assert not holds_values(None, "==", "")


def test_missing_value_key_compares_as_none() -> None:
    group = {"type": "and", "rules": [{"field": "{{trigger.none}}", "operator": "=="}]}
    assert evaluate_conditions(group, SCOPE)


def test_bool_equals_bool_but_not_its_text_or_number() -> None:
    assert holds("{{trigger.won}}", "==", True)
    assert not holds("{{trigger.won}}", "==", "true")
    assert not holds_values(True, "==", 1)


def test_booleans_are_not_ordered() -> None:
    assert not holds_values(True, ">", False)


def test_equal_dicts_are_equal_with_numeric_strings_inside() -> None:
    assert holds_values({"a": [1, "2"]}, "==", {"a": ["1", 2.0]})


def test_nested_lists_of_different_length_are_unequal() -> None:
    assert not holds_values([1, [2, 3]], "==", [1, [2]])


def test_list_and_dict_are_unequal() -> None:
    assert not holds_values([], "==", {})


def test_deeply_nested_value_never_raises() -> None:
    deep: Any = []
    for _ in range(5000):
        deep = [deep]
    assert not holds_values(deep, "==", deep)
    assert holds_values(deep, "!=", deep)


def test_unhashable_operator_is_false() -> None:
    group = {"type": "and", "rules": [{"field": 1, "operator": ["=="], "value": 1}]}
    assert not evaluate_conditions(group, SCOPE)


# --- Groups -----------------------------------------------------------------------------------


def test_none_conditions_hold() -> None:
    assert evaluate_conditions(None, SCOPE)


def test_empty_and_group_is_true() -> None:
    assert evaluate_conditions({"type": "and", "rules": []}, SCOPE)


def test_empty_or_group_is_false() -> None:
    assert not evaluate_conditions({"type": "or", "rules": []}, SCOPE)


def test_and_group_needs_every_rule() -> None:
    group = {
        "type": "and",
        "rules": [
            {"field": "{{trigger.amount}}", "operator": ">", "value": 1},
            {"field": "{{trigger.name}}", "operator": "==", "value": "Other"},
        ],
    }
    assert not evaluate_conditions(group, SCOPE)


def test_or_group_needs_one_rule() -> None:
    group = {
        "type": "or",
        "rules": [
            {"field": "{{trigger.amount}}", "operator": "<", "value": 1},
            {"field": "{{trigger.name}}", "operator": "==", "value": "Acme Ltda"},
        ],
    }
    assert evaluate_conditions(group, SCOPE)


def test_nested_groups_combine() -> None:
    group = {
        "type": "and",
        "rules": [
            {"field": "{{step.deal.stage}}", "operator": "==", "value": "closedwon"},
            {
                "type": "or",
                "rules": [
                    {"field": "{{trigger.amount}}", "operator": ">", "value": 100000},
                    {"field": "{{trigger.tags}}", "operator": "contains", "value": "vip"},
                ],
            },
        ],
    }
    assert evaluate_conditions(group, SCOPE)


# --- Malformed at run time: false, never an exception -----------------------------------------


def test_unknown_operator_is_false_at_run_time() -> None:
    assert not holds("{{trigger.name}}", "equals", "Acme Ltda")


def test_rule_without_field_is_false() -> None:
    assert not evaluate_conditions({"type": "and", "rules": [{"operator": "is_empty"}]}, SCOPE)


def test_group_with_an_unknown_type_is_false() -> None:
    assert not evaluate_conditions({"type": "xor", "rules": []}, SCOPE)


def test_group_whose_rules_are_not_a_list_is_false() -> None:
    assert not evaluate_conditions({"type": "and", "rules": "nope"}, SCOPE)


def test_rule_that_is_not_a_mapping_is_false() -> None:
    assert not evaluate_conditions({"type": "and", "rules": [42]}, SCOPE)
    assert evaluate_conditions({"type": "or", "rules": [42, rule(1, "==", 1)]}, SCOPE)


def test_group_that_is_not_a_mapping_is_false() -> None:
    assert not evaluate_conditions("always", SCOPE)  # type: ignore[arg-type]


def test_rule_given_as_an_object_with_attributes_is_evaluated() -> None:
    @dataclass
    class Rule:
        field: Any
        operator: str
        value: Any = None
        case_sensitive: bool = True

    @dataclass
    class Group:
        type: str
        rules: list[Any]

    group = Group("and", [Rule("{{trigger.amount}}", ">", 1), Rule("A", "==", "a", False)])
    assert evaluate_conditions(group, SCOPE)  # type: ignore[arg-type]


# --- select_branches --------------------------------------------------------------------------

BIG: dict[str, Any] = {"name": "Big", "conditions": rule("{{trigger.amount}}", ">", 10000)}
VIP: dict[str, Any] = {"name": "VIP", "conditions": rule("{{trigger.tags}}", "contains", "vip")}
SMALL: dict[str, Any] = {"name": "Small", "conditions": rule("{{trigger.amount}}", "<", 100)}
DEFAULT: dict[str, Any] = {"name": "Default", "conditions": None}


def test_first_mode_returns_only_the_first_match() -> None:
    assert select_branches([SMALL, BIG, VIP, DEFAULT], SCOPE) == [BIG]


def test_all_mode_returns_every_match_in_order() -> None:
    assert select_branches([VIP, SMALL, BIG, DEFAULT], SCOPE, mode="all") == [VIP, BIG, DEFAULT]


def test_selected_branches_are_the_same_objects() -> None:
    chosen = select_branches([SMALL, BIG], SCOPE)
    assert chosen[0] is BIG


def test_branch_without_conditions_always_matches() -> None:
    assert select_branches([SMALL, DEFAULT], SCOPE) == [DEFAULT]


def test_no_matching_branch_gives_an_empty_list() -> None:
    assert select_branches([SMALL], SCOPE) == []
    assert select_branches([SMALL], SCOPE, mode="all") == []


def test_branches_may_be_objects_with_a_conditions_attribute() -> None:
    @dataclass
    class Branch:
        name: str
        conditions: dict[str, Any] | None

    small = Branch("small", SMALL["conditions"])
    fallback = Branch("default", None)
    assert select_branches([small, fallback], SCOPE) == [fallback]


def test_branches_may_be_pydantic_models() -> None:
    from pydantic import BaseModel

    class Branch(BaseModel):
        name: str
        conditions: dict[str, Any] | None = None

    branches = [Branch(name="big", conditions=BIG["conditions"]), Branch(name="default")]
    assert select_branches(branches, SCOPE, mode="all") == branches


def test_unknown_mode_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="mode"):
        select_branches([DEFAULT], SCOPE, mode="some")  # type: ignore[arg-type]


# --- check_conditions -------------------------------------------------------------------------


def test_check_accepts_a_valid_group() -> None:
    group = {
        "type": "or",
        "rules": [
            {"field": "{{trigger.a}}", "operator": "is_empty"},
            {"type": "and", "rules": [{"field": "x", "operator": "==", "value": 1}]},
        ],
    }
    assert check_conditions(group) == []


def test_check_accepts_none() -> None:
    assert check_conditions(None) == []


def test_check_reports_an_unknown_operator_naming_the_rule() -> None:
    group = {
        "type": "and",
        "rules": [
            {"field": "a", "operator": "==", "value": 1},
            {"field": "a", "operator": "equals", "value": 1},
        ],
    }
    (problem,) = check_conditions(group)
    assert problem.startswith(
        "rules[1].operator: unknown operator 'equals' (expected one of ==, !="
    )


def test_check_reports_a_group_type_that_is_not_and_or() -> None:
    assert check_conditions({"type": "xor", "rules": []}) == [
        "type: must be 'and' or 'or', got 'xor'"
    ]


def test_check_reports_a_missing_group_type() -> None:
    assert check_conditions({"rules": []}) == ["type: missing (expected 'and' or 'or')"]


def test_check_reports_a_rule_missing_field() -> None:
    group = {"type": "and", "rules": [{"operator": "is_empty"}]}
    assert check_conditions(group) == ["rules[0].field: missing"]


def test_check_reports_a_rule_missing_operator() -> None:
    group = {"type": "and", "rules": [{"field": "a", "value": 1}]}
    (problem,) = check_conditions(group)
    assert problem.startswith("rules[0].operator: missing")


def test_check_reports_rules_that_are_not_a_list() -> None:
    assert check_conditions({"type": "and", "rules": {"field": "a"}}) == [
        "rules: expected a list of rules and groups, got dict"
    ]


def test_check_reports_missing_rules() -> None:
    assert check_conditions({"type": "and"}) == [
        "rules: missing (expected a list of rules and groups)"
    ]


def test_check_names_problems_inside_nested_groups() -> None:
    group = {
        "type": "and",
        "rules": [
            {"field": "a", "operator": "==", "value": 1},
            {"type": "or", "rules": [{"field": "b", "operator": "~"}]},
        ],
    }
    (problem,) = check_conditions(group)
    assert problem.startswith("rules[1].rules[0].operator: unknown operator '~'")


def test_check_reports_a_rule_that_is_not_a_mapping() -> None:
    assert check_conditions({"type": "and", "rules": ["a == 1"]}) == [
        "rules[0]: expected a rule {field, operator, value} or a group, got str"
    ]


def test_check_reports_a_group_that_is_not_a_mapping() -> None:
    assert check_conditions(["a"]) == [
        "conditions: expected a group {type: and|or, rules: [...]}, got list"
    ]


def test_check_reports_case_sensitive_that_is_not_a_boolean() -> None:
    group = {"type": "and", "rules": [{"field": "a", "operator": "==", "case_sensitive": "no"}]}
    assert check_conditions(group) == ["rules[0].case_sensitive: must be true or false, got 'no'"]


def test_check_reports_every_problem() -> None:
    group = {"type": "nand", "rules": [{"operator": "=~"}, 3]}
    assert len(check_conditions(group)) == 4
