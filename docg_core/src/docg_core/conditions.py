"""Branch conditions (ARCHITECTURE section 7): evaluate a group, pick branches, check a group.

A group is ``{"type": "and" | "or", "rules": [rule | group, ...]}``; a rule is
``{"field": ..., "operator": ..., "value": ..., "case_sensitive": true}``, ``field`` and
``value`` resolved with :func:`~docg_core.variables.compute_parameters` first. An item of
``rules`` is a group when it has a ``rules`` key (or a ``type`` key and no ``operator``).

How values compare (``==``, ``!=``, ``>``, ``<``, ``>=``, ``<=``):

- Each side is classified: a number (int, float, Decimal; a string such as ``"10"``,
  ``" -2.5"`` or ``"1e3"`` counts as one; numbers compare as exact decimals, a float as the
  decimal it prints as, so ``0.1 == "0.1"``), a date (a datetime or date, or an ISO 8601 string
  starting ``YYYY-MM-DD``), a string, or something else (bool, None, list, dict).
- Numbers compare with numbers, dates with dates, strings with strings (by code point, after
  ``casefold`` when ``case_sensitive`` is false). Dates compare as instants: offsets are
  respected, and a date or datetime without an offset is taken to be UTC (a date alone is
  its midnight UTC), so ``"2024-05-01"`` equals ``"2024-05-01T00:00:00Z"``.
- Values of the same other kind are equal when they are equal (lists and dicts item by item,
  with these same rules) but never ordered. Any mix of kinds is unequal, and false for the
  ordering operators. NaN is no number: it equals nothing and orders with nothing.
- ``!=`` is always the negation of ``==``; ``not_contains`` of ``contains``; ``is_not_empty``
  of ``is_empty``.

``contains``: a string contains a substring (a number needle is written as text); a list
contains an item equal (as ``==``) to the value; anything else contains nothing.
``starts_with``/``ends_with`` work on text (numbers written as text). Empty means None, "",
[] or {} (a missing variable resolves to None, so it is empty).

Evaluation never raises: a malformed rule or group is false. :func:`check_conditions` finds
those problems when a workflow is saved.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Final, Literal, TypeVar

from docg_core.variables import compute_parameters

__all__ = ["OPERATORS", "check_conditions", "evaluate_conditions", "select_branches"]

_OPERATOR_ORDER: Final = (
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
)
OPERATORS: Final[frozenset[str]] = frozenset(_OPERATOR_ORDER)
"""Every rule operator a condition may use."""

_GROUP_TYPES: Final = ("and", "or")
_ABSENT: Final = object()

B = TypeVar("B")


# --------------------------------------------------------------------------------------------
# Classifying and comparing values

_NUM, _DATE, _STR, _OTHER = range(4)
_ORDERED: Final = frozenset({_NUM, _DATE, _STR})
_NUMBER_RE: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_DATE_PREFIX_RE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _as_instant(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _classify(value: Any) -> tuple[int, Any]:
    """``(kind, comparable value)`` of one side of a comparison."""
    if isinstance(value, str):
        text = value.strip()
        if _NUMBER_RE.fullmatch(text):
            return _NUM, Decimal(text)
        if _DATE_PREFIX_RE.match(text):
            try:
                return _DATE, _as_instant(datetime.fromisoformat(text))
            except ValueError:
                pass
        return _STR, value
    if isinstance(value, bool) or value is None:
        return _OTHER, value
    if isinstance(value, int):
        return _NUM, value
    if isinstance(value, float):
        # As the decimal it is written as, so that 0.1 equals "0.1" (repr keeps the order).
        return (_OTHER, value) if value != value else (_NUM, Decimal(repr(value)))
    if isinstance(value, Decimal):
        return (_OTHER, value) if value.is_nan() else (_NUM, value)
    if isinstance(value, datetime):
        return _DATE, _as_instant(value)
    if isinstance(value, date):
        return _DATE, datetime(value.year, value.month, value.day, tzinfo=UTC)
    return _OTHER, value


def _equal(left: Any, right: Any, fold: bool) -> bool:
    kind, a = _classify(left)
    other_kind, b = _classify(right)
    if kind != other_kind:
        return False
    if kind == _STR:
        return a.casefold() == b.casefold() if fold else bool(a == b)
    if kind != _OTHER:
        return bool(a == b)
    if isinstance(a, list | tuple):
        return (
            isinstance(b, list | tuple)
            and len(a) == len(b)
            and all(_equal(x, y, fold) for x, y in zip(a, b, strict=True))
        )
    if isinstance(a, Mapping):
        return (
            isinstance(b, Mapping)
            and a.keys() == b.keys()
            and all(_equal(a[k], b[k], fold) for k in a)
        )
    if isinstance(b, list | tuple | Mapping):
        return False
    # bool with bool, None with None (NaN is not even equal to itself).
    return type(a) is type(b) and bool(a == b)


def _compare(left: Any, right: Any, fold: bool) -> int | None:
    """-1, 0 or 1 when both sides are numbers, dates or strings; None otherwise."""
    kind, a = _classify(left)
    other_kind, b = _classify(right)
    if kind != other_kind or kind not in _ORDERED:
        return None
    if kind == _STR and fold:
        a, b = a.casefold(), b.casefold()
    return -1 if a < b else (1 if a > b else 0)


def _text(value: Any) -> str | None:
    """A string as is, a number as text; None for anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return str(value)
    return None


def _contains(field: Any, value: Any, fold: bool) -> bool:
    if isinstance(field, str):
        needle = _text(value)
        if needle is None:
            return False
        return needle.casefold() in field.casefold() if fold else needle in field
    if isinstance(field, list | tuple):
        return any(_equal(item, value, fold) for item in field)
    return False


def _affix(field: Any, value: Any, fold: bool, ends: bool) -> bool:
    text, affix = _text(field), _text(value)
    if text is None or affix is None:
        return False
    if fold:
        text, affix = text.casefold(), affix.casefold()
    return text.endswith(affix) if ends else text.startswith(affix)


def _is_empty(field: Any) -> bool:
    if field is None:
        return True
    if isinstance(field, str | list | tuple | Mapping):
        return len(field) == 0
    return False


_Operator = Callable[[Any, Any, bool], bool]


def _safe(test: _Operator) -> _Operator:
    """``test``, false instead of raising (odd data), so a negation stays its complement."""

    def operator(field: Any, value: Any, fold: bool) -> bool:
        try:
            return test(field, value, fold)
        except Exception:
            return False

    return operator


def _ordered(test: Callable[[int], bool]) -> _Operator:
    def operator(field: Any, value: Any, fold: bool) -> bool:
        result = _compare(field, value, fold)
        return result is not None and test(result)

    return _safe(operator)


_safe_equal = _safe(_equal)
_safe_contains = _safe(_contains)
_safe_is_empty = _safe(lambda f, v, fold: _is_empty(f))

_OPERATORS: Final[dict[str, _Operator]] = {
    "==": _safe_equal,
    "!=": lambda f, v, fold: not _safe_equal(f, v, fold),
    ">": _ordered(lambda c: c > 0),
    "<": _ordered(lambda c: c < 0),
    ">=": _ordered(lambda c: c >= 0),
    "<=": _ordered(lambda c: c <= 0),
    "contains": _safe_contains,
    "not_contains": lambda f, v, fold: not _safe_contains(f, v, fold),
    "starts_with": _safe(lambda f, v, fold: _affix(f, v, fold, ends=False)),
    "ends_with": _safe(lambda f, v, fold: _affix(f, v, fold, ends=True)),
    "is_empty": _safe_is_empty,
    "is_not_empty": lambda f, v, fold: not _safe_is_empty(f, v, fold),
}


# --------------------------------------------------------------------------------------------
# Reading groups and rules (plain mappings, or objects with the same attributes)


def _get(item: Any, name: str) -> Any:
    """``item[name]`` for a mapping, ``item.name`` otherwise; ``_ABSENT`` when not there."""
    if isinstance(item, Mapping):
        return item.get(name, _ABSENT)
    return getattr(item, name, _ABSENT)


def _plain(value: Any) -> Any:
    """An Enum member's value (a pydantic model may hold ``Operator.EQ``), else the value."""
    return value.value if isinstance(value, Enum) else value


def _is_group(item: Any) -> bool:
    if _get(item, "rules") is not _ABSENT:
        return True
    return _get(item, "type") is not _ABSENT and _get(item, "operator") is _ABSENT


def _eval_group(group: Any, scope: Mapping[str, Any]) -> bool:
    kind = _plain(_get(group, "type"))
    rules = _get(group, "rules")
    if kind not in _GROUP_TYPES or not isinstance(rules, list | tuple):
        return False
    results = (
        _eval_group(item, scope) if _is_group(item) else _eval_rule(item, scope) for item in rules
    )
    return all(results) if kind == "and" else any(results)


def _eval_rule(rule: Any, scope: Mapping[str, Any]) -> bool:
    try:
        operator = _OPERATORS.get(_plain(_get(rule, "operator")))
        field = _get(rule, "field")
        if operator is None or field is _ABSENT:
            return False
        value = _get(rule, "value")
        case_sensitive = _get(rule, "case_sensitive")
        fold = case_sensitive is not _ABSENT and case_sensitive is not None and not case_sensitive
        field = compute_parameters(field, scope)
        value = None if value is _ABSENT else compute_parameters(value, scope)
    except Exception:  # odd data never fails a run; check_conditions reports it at save time
        return False
    return operator(field, value, fold)


# --------------------------------------------------------------------------------------------
# Public API


def evaluate_conditions(group: Mapping[str, Any] | None, scope: Mapping[str, Any]) -> bool:
    """Whether ``group`` holds in ``scope`` (None always holds). Never raises: a malformed
    rule or group is false. See the module docstring for how values compare."""
    if group is None:
        return True
    try:
        return _eval_group(group, scope)
    except Exception:  # for example, groups nested deeper than the recursion limit
        return False


def select_branches(
    branches: Sequence[B],
    scope: Mapping[str, Any],
    mode: Literal["first", "all"] = "first",
) -> list[B]:
    """The branches whose conditions hold, in order, as given: at most one in ``first`` mode
    (a ``branch`` node), every one in ``all`` mode (a ``paths`` node).

    A branch is a mapping with a ``"conditions"`` key or an object with a ``.conditions``
    attribute; conditions that are None (or absent) always match.
    """
    if mode not in ("first", "all"):
        raise ValueError(f"mode must be 'first' or 'all', not {mode!r}")
    chosen: list[B] = []
    for branch in branches:
        conditions = _get(branch, "conditions")
        if conditions is _ABSENT or evaluate_conditions(conditions, scope):
            chosen.append(branch)
            if mode == "first":
                break
    return chosen


def check_conditions(group: Any) -> list[str]:
    """Save-time problems of a condition group, each naming where it is
    (``"rules[1].operator: unknown operator 'equals' (expected one of ==, ...)"``).

    Returns [] when the group is fine (None is fine: it always matches).
    """
    problems: list[str] = []
    if group is not None:
        _check_group(group, "", problems)
    return problems


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _check_group(group: Any, where: str, problems: list[str]) -> None:
    prefix = f"{where}." if where else ""
    if not isinstance(group, Mapping) and not _is_group(group):
        problems.append(
            f"{where or 'conditions'}: expected a group {{type: and|or, rules: [...]}}, "
            f"got {_type_name(group)}"
        )
        return
    kind = _plain(_get(group, "type"))
    if kind is _ABSENT:
        problems.append(f"{prefix}type: missing (expected 'and' or 'or')")
    elif kind not in _GROUP_TYPES:
        problems.append(f"{prefix}type: must be 'and' or 'or', got {kind!r}")
    rules = _get(group, "rules")
    if rules is _ABSENT:
        problems.append(f"{prefix}rules: missing (expected a list of rules and groups)")
        return
    if not isinstance(rules, list | tuple):
        problems.append(
            f"{prefix}rules: expected a list of rules and groups, got {_type_name(rules)}"
        )
        return
    for i, item in enumerate(rules):
        here = f"{prefix}rules[{i}]"
        if isinstance(item, Mapping) or hasattr(item, "operator") or hasattr(item, "rules"):
            if _is_group(item):
                _check_group(item, here, problems)
            else:
                _check_rule(item, here, problems)
        else:
            problems.append(
                f"{here}: expected a rule {{field, operator, value}} or a group, "
                f"got {_type_name(item)}"
            )


def _check_rule(rule: Any, where: str, problems: list[str]) -> None:
    expected = ", ".join(_OPERATOR_ORDER)
    if _get(rule, "field") is _ABSENT:
        problems.append(f"{where}.field: missing")
    operator = _plain(_get(rule, "operator"))
    if operator is _ABSENT or operator is None:
        problems.append(f"{where}.operator: missing (expected one of {expected})")
    elif not isinstance(operator, str) or operator not in OPERATORS:
        problems.append(
            f"{where}.operator: unknown operator {operator!r} (expected one of {expected})"
        )
    case_sensitive = _get(rule, "case_sensitive")
    if case_sensitive not in (_ABSENT, None) and not isinstance(case_sensitive, bool):
        problems.append(f"{where}.case_sensitive: must be true or false, got {case_sensitive!r}")
