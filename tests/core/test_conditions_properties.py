"""Property tests of the condition evaluator: complementary operators never disagree."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from docg_core.conditions import evaluate_conditions

quick = settings(database=None, deadline=None)

offsets = st.integers(-23 * 60, 23 * 60).map(lambda m: timezone(timedelta(minutes=m)))
datetimes = st.datetimes(
    min_value=datetime(1900, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.one_of(st.none(), offsets),
)
plain_dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 1, 1))
dates = st.one_of(
    datetimes,
    plain_dates,
    datetimes.map(lambda d: d.isoformat()),
    plain_dates.map(lambda d: d.isoformat()),
)
numbers = st.one_of(
    st.integers(),
    st.floats(allow_nan=False),
    st.decimals(allow_nan=False),
    st.integers().map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.decimals(allow_nan=False, allow_infinity=False).map(lambda d: f" {d} "),
)
# Letters and spaces only: never a number and never a date.
words = st.text(st.characters(categories=["L", "Zs"]), max_size=12)
scalars = st.one_of(
    st.none(), st.booleans(), numbers, dates, words, st.text(max_size=12), st.just(float("nan"))
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)
comparable_pairs = st.one_of(
    st.tuples(numbers, numbers), st.tuples(dates, dates), st.tuples(words, words)
)


def holds(left: Any, operator: str, right: Any, case_sensitive: bool) -> bool:
    scope = {"trigger": {"left": left, "right": right}}
    group = {
        "type": "and",
        "rules": [
            {
                "field": "{{trigger.left}}",
                "operator": operator,
                "value": "{{trigger.right}}",
                "case_sensitive": case_sensitive,
            }
        ],
    }
    return evaluate_conditions(group, scope)


@quick
@given(values, values, st.booleans())
def test_equals_and_not_equals_are_complementary(left: Any, right: Any, cs: bool) -> None:
    assert holds(left, "==", right, cs) != holds(left, "!=", right, cs)


@quick
@given(values, values, st.booleans())
def test_contains_and_not_contains_are_complementary(left: Any, right: Any, cs: bool) -> None:
    assert holds(left, "contains", right, cs) != holds(left, "not_contains", right, cs)


@quick
@given(values, st.booleans())
def test_is_empty_and_is_not_empty_are_complementary(value: Any, cs: bool) -> None:
    assert holds(value, "is_empty", None, cs) != holds(value, "is_not_empty", None, cs)


@quick
@given(comparable_pairs, st.booleans())
def test_greater_and_less_or_equal_are_complementary_when_comparable(
    pair: tuple[Any, Any], cs: bool
) -> None:
    left, right = pair
    assert holds(left, ">", right, cs) != holds(left, "<=", right, cs)


@quick
@given(comparable_pairs, st.booleans())
def test_less_and_greater_or_equal_are_complementary_when_comparable(
    pair: tuple[Any, Any], cs: bool
) -> None:
    left, right = pair
    assert holds(left, "<", right, cs) != holds(left, ">=", right, cs)


@quick
@given(values, values, st.booleans())
def test_equality_is_symmetric(left: Any, right: Any, cs: bool) -> None:
    assert holds(left, "==", right, cs) == holds(right, "==", left, cs)


@quick
@given(comparable_pairs)
def test_equal_comparable_values_are_neither_greater_nor_less(pair: tuple[Any, Any]) -> None:
    left, right = pair
    if holds(left, "==", right, True):
        assert not holds(left, ">", right, True)
        assert not holds(left, "<", right, True)
        assert holds(left, ">=", right, True)


@quick
@given(values, values)
def test_greater_and_less_never_both_hold(left: Any, right: Any) -> None:
    assert not (holds(left, ">", right, True) and holds(left, "<", right, True))


@quick
@given(st.one_of(numbers, dates, words), st.sampled_from([{"a": 1}, [1], None, True]))
def test_ordering_against_a_non_comparable_is_false(left: Any, right: Any) -> None:
    for operator in (">", "<", ">=", "<="):
        assert not holds(left, operator, right, True)
        assert not holds(right, operator, left, True)


@quick
@given(
    st.one_of(
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.decimals(allow_nan=False, allow_infinity=False),
    )
)
def test_finite_number_equals_its_own_text(number: Any) -> None:
    assert holds(number, "==", str(number), True)
