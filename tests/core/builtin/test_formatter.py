"""The Formatter app: text, number and date transforms, each returning {"value": ...}."""

from __future__ import annotations

from typing import Any

import pytest

from docg_core.builtin.formatter import DateAction, FormatterApp, NumberAction, TextAction
from docg_core.errors import StepError, ValidationError
from docg_core.testing import run_action

APP = FormatterApp()


async def text(**params: Any) -> Any:
    return await _run(TextAction, params)


async def number(**params: Any) -> Any:
    return await _run(NumberAction, params)


async def date(**params: Any) -> Any:
    return await _run(DateAction, params)


async def _run(action: Any, params: dict[str, Any]) -> Any:
    result = await run_action(APP, action, params)
    assert result.raw == result.data
    assert list(result.data) == ["value"]
    return result.data["value"]


# --------------------------------------------------------------------------------------- text


async def test_upper() -> None:
    assert await text(transform="upper", input="São Paulo") == "SÃO PAULO"


async def test_lower() -> None:
    assert await text(transform="lower", input="ÁGUA Viva") == "água viva"


async def test_trim_strips_surrounding_whitespace_only() -> None:
    assert await text(transform="trim", input="  a  b \n") == "a  b"


async def test_title_capitalizes_words_keeping_apostrophes_and_hyphens() -> None:
    result = await text(transform="title", input="joão d'ávila-SILVA don't")
    assert result == "João D'ávila-Silva Don't"


async def test_slugify_removes_accents_and_joins_words_with_hyphens() -> None:
    result = await text(transform="slugify", input="  Contrato Nº 5 — São Paulo/Ação! ")
    assert result == "contrato-no-5-sao-paulo-acao"


async def test_replace_replaces_every_occurrence() -> None:
    result = await text(transform="replace", input="a-b-c", find="-", replace_with=" + ")
    assert result == "a + b + c"


async def test_replace_without_replacement_removes_the_text() -> None:
    assert await text(transform="replace", input="R$ 10", find="R$ ") == "10"


async def test_replace_without_find_names_the_argument() -> None:
    with pytest.raises(StepError, match=r"^find: "):
        await text(transform="replace", input="abc")


async def test_split_uses_comma_by_default_and_strips_items() -> None:
    assert await text(transform="split", input="a, b ,c") == ["a", "b", "c"]


async def test_split_with_separator() -> None:
    assert await text(transform="split", input="a;b", separator=";") == ["a", "b"]


async def test_split_of_empty_text_is_an_empty_list() -> None:
    assert await text(transform="split", input="") == []


async def test_join_joins_a_list_with_the_separator() -> None:
    assert await text(transform="join", input=["a", 1, None, True], separator=" | ") == (
        "a | 1 |  | true"
    )


async def test_join_uses_comma_by_default() -> None:
    assert await text(transform="join", input=["a", "b"]) == "a,b"


async def test_join_of_text_is_a_step_error_naming_input() -> None:
    with pytest.raises(StepError, match=r"^input: join needs a list"):
        await text(transform="join", input="a,b")


async def test_truncate_keeps_the_result_within_length_with_ellipsis() -> None:
    assert await text(transform="truncate", input="Hello, wonderful world", length=8) == "Hello,…"


async def test_truncate_with_custom_suffix() -> None:
    result = await text(transform="truncate", input="abcdefghij", length=6, suffix="...")
    assert result == "abc..."


async def test_truncate_with_empty_suffix_cuts_exactly() -> None:
    assert await text(transform="truncate", input="abcdefghij", length=4, suffix="") == "abcd"


async def test_truncate_leaves_short_text_alone() -> None:
    assert await text(transform="truncate", input="abc", length=3) == "abc"


async def test_truncate_without_length_names_the_argument() -> None:
    with pytest.raises(StepError, match=r"^length: "):
        await text(transform="truncate", input="abc")


async def test_truncate_with_fractional_length_names_the_argument() -> None:
    with pytest.raises(StepError, match=r"^length: expected a whole number"):
        await text(transform="truncate", input="abc", length=2.5)


@pytest.mark.parametrize("empty", [None, "", [], {}])
async def test_default_replaces_an_empty_input(empty: Any) -> None:
    assert await text(transform="default", input=empty, default_value="n/a") == "n/a"


async def test_default_keeps_a_non_empty_input_as_it_is() -> None:
    assert await text(transform="default", input={"a": 1}, default_value="n/a") == {"a": 1}


async def test_numbers_are_transformed_as_text() -> None:
    assert await text(transform="truncate", input=123456, length=3, suffix="") == "123"


async def test_text_transform_of_a_list_is_a_step_error_naming_input() -> None:
    with pytest.raises(StepError, match=r"^input: upper needs text, got a list"):
        await text(transform="upper", input=["a"])


async def test_unknown_transform_is_a_validation_error_naming_the_argument() -> None:
    with pytest.raises(ValidationError) as info:
        await text(transform="shout", input="a")
    assert [p.field for p in info.value.problems] == ["transform"]
    assert "'shout' is not one of" in str(info.value)


async def test_missing_transform_is_a_validation_error_naming_the_argument() -> None:
    with pytest.raises(ValidationError) as info:
        await text(input="a")
    assert [p.field for p in info.value.problems] == ["transform"]


# ------------------------------------------------------------------------------------- number


async def test_number_format_pt_br() -> None:
    assert await number(transform="format", input=1234.56, locale="pt-BR", decimals=2) == (
        "1.234,56"
    )


async def test_number_format_en_us() -> None:
    assert await number(transform="format", input=1234.56, locale="en-US", decimals=2) == (
        "1,234.56"
    )


async def test_number_format_accepts_a_numeric_string() -> None:
    assert await number(input="1234567.891", locale="en-US", decimals=1) == "1,234,567.9"


async def test_number_format_pads_decimals() -> None:
    assert await number(input=5, locale="pt-BR", decimals=2) == "5,00"


async def test_number_format_rounds_half_up() -> None:
    assert await number(input="2.345", locale="en-US", decimals=2) == "2.35"


async def test_number_format_with_zero_decimals() -> None:
    assert await number(input=1234.5, locale="pt-BR", decimals=0) == "1.235"


async def test_number_format_defaults_to_pt_br_with_two_decimals() -> None:
    assert await number(input=-1234.5) == "-1.234,50"


async def test_number_format_uses_the_locale_grouping() -> None:
    assert await number(input=1234567, locale="en-IN", decimals=0) == "12,34,567"


async def test_number_format_of_text_is_a_step_error_naming_input() -> None:
    with pytest.raises(StepError, match=r"^input: '12abc' is not a number"):
        await number(input="12abc")


async def test_number_format_of_infinity_is_a_step_error_naming_input() -> None:
    with pytest.raises(StepError, match=r"^input: .* not a finite number"):
        await number(input="Infinity")


async def test_number_format_unknown_locale_is_a_step_error_naming_locale() -> None:
    with pytest.raises(StepError, match=r"^locale: unknown locale 'xx-YY'"):
        await number(input=1, locale="xx-YY")


async def test_number_format_negative_decimals_is_a_step_error_naming_decimals() -> None:
    with pytest.raises(StepError, match=r"^decimals: must be at least 0"):
        await number(input=1, decimals=-1)


async def test_number_format_non_numeric_decimals_is_a_validation_error() -> None:
    with pytest.raises(ValidationError) as info:
        await number(input=1, decimals="two")
    assert [p.field for p in info.value.problems] == ["decimals"]


# --------------------------------------------------------------------------------------- date


async def test_date_format_with_strftime_pattern() -> None:
    assert await date(transform="format", input="2026-11-26", format="%d/%m/%Y") == "26/11/2026"


async def test_date_format_with_babel_pattern_uses_pt_br_month_names() -> None:
    result = await date(
        transform="format", input="2026-11-26", format="d 'de' MMMM 'de' y", locale="pt-BR"
    )
    assert result == "26 de novembro de 2026"


async def test_date_format_with_named_long_format() -> None:
    assert await date(transform="format", input="2026-11-26", format="long", locale="en-US") == (
        "November 26, 2026"
    )


async def test_date_format_strftime_names_follow_the_locale() -> None:
    result = await date(
        transform="format", input="2026-11-26", format="%A, %d de %B (%b) 100%%", locale="pt-BR"
    )
    assert result == "quinta-feira, 26 de novembro (nov.) 100%"


async def test_date_format_converts_a_datetime_to_the_timezone() -> None:
    result = await date(
        transform="format",
        input="2026-11-26T02:30:00Z",
        format="%d/%m/%Y %H:%M %z",
        timezone="America/Sao_Paulo",
    )
    assert result == "25/11/2026 23:30 -0300"


async def test_date_format_babel_pattern_in_the_timezone() -> None:
    result = await date(
        transform="format",
        input="2026-11-26T02:30:00+00:00",
        format="d 'de' MMMM 'às' HH:mm",
        timezone="America/Sao_Paulo",
        locale="pt-BR",
    )
    assert result == "25 de novembro às 23:30"


async def test_date_format_takes_a_naive_datetime_as_in_the_timezone() -> None:
    result = await date(
        transform="format", input="2026-11-26T10:00:00", format="%H:%M %Z", timezone="Asia/Tokyo"
    )
    assert result == "10:00 JST"


async def test_date_format_of_a_non_iso_input_is_a_step_error_naming_input() -> None:
    with pytest.raises(StepError, match=r"^input: '26/11/2026' is not an ISO 8601 date"):
        await date(transform="format", input="26/11/2026", format="%d/%m/%Y")


async def test_date_format_without_format_is_a_step_error_naming_format() -> None:
    with pytest.raises(StepError, match=r"^format: format needs a format"):
        await date(transform="format", input="2026-11-26")


async def test_date_format_with_a_bad_babel_pattern_names_format() -> None:
    with pytest.raises(StepError, match=r"^format: 'qqqqqqq' is not a valid Babel date pattern"):
        await date(transform="format", input="2026-11-26", format="qqqqqqq")


async def test_date_unknown_timezone_is_a_step_error_naming_timezone() -> None:
    with pytest.raises(StepError, match=r"^timezone: unknown time zone 'Mars/Olympus'"):
        await date(transform="format", input="2026-11-26", format="%Y", timezone="Mars/Olympus")


async def test_date_add_days_to_a_date_returns_an_iso_date() -> None:
    assert await date(transform="add", input="2026-11-26", days=10) == "2026-12-06"


async def test_date_add_negative_days() -> None:
    assert await date(transform="add", input="2026-03-01", days=-1) == "2026-02-28"


async def test_date_add_months_keeps_the_day_within_the_month() -> None:
    assert await date(transform="add", input="2026-01-31", months=1) == "2026-02-28"


async def test_date_add_days_to_a_datetime_keeps_the_wall_clock_across_dst() -> None:
    result = await date(
        transform="add", input="2026-03-07T09:00:00", days=1, timezone="America/New_York"
    )
    assert result == "2026-03-08T09:00:00-04:00"


async def test_date_add_hours_counts_real_time_across_dst() -> None:
    result = await date(
        transform="add", input="2026-03-08T00:00:00", hours=24, timezone="America/New_York"
    )
    assert result == "2026-03-09T01:00:00-04:00"


async def test_date_add_hours_to_a_date_starts_at_midnight_in_the_timezone() -> None:
    result = await date(
        transform="add", input="2026-11-26", hours=-1.5, timezone="America/Sao_Paulo"
    )
    assert result == "2026-11-25T22:30:00-03:00"


async def test_date_add_returns_the_datetime_in_the_timezone() -> None:
    result = await date(
        transform="add", input="2026-11-26T12:00:00Z", days=1, timezone="America/Sao_Paulo"
    )
    assert result == "2026-11-27T09:00:00-03:00"


async def test_date_add_without_amounts_is_a_step_error_naming_days() -> None:
    with pytest.raises(StepError, match=r"^days: add needs days, hours or months"):
        await date(transform="add", input="2026-11-26")


async def test_date_add_fractional_days_is_a_step_error_naming_days() -> None:
    with pytest.raises(StepError, match=r"^days: expected a whole number"):
        await date(transform="add", input="2026-11-26", days=1.5)


async def test_date_parse_with_strftime_pattern_returns_an_iso_date() -> None:
    assert await date(transform="parse", input="26/11/2026", format="%d/%m/%Y") == "2026-11-26"


async def test_date_parse_reads_pt_br_month_names() -> None:
    result = await date(
        transform="parse", input="26 de Novembro de 2026", format="%d de %B de %Y", locale="pt-BR"
    )
    assert result == "2026-11-26"


async def test_date_parse_with_time_returns_a_datetime_in_the_timezone() -> None:
    result = await date(
        transform="parse",
        input="26/11/2026 14:30",
        format="%d/%m/%Y %H:%M",
        timezone="America/Sao_Paulo",
    )
    assert result == "2026-11-26T14:30:00-03:00"


async def test_date_parse_with_an_offset_converts_to_the_timezone() -> None:
    result = await date(
        transform="parse",
        input="2026-11-26 14:30 +0000",
        format="%Y-%m-%d %H:%M %z",
        timezone="America/Sao_Paulo",
    )
    assert result == "2026-11-26T11:30:00-03:00"


async def test_date_parse_mismatch_is_a_step_error_naming_input() -> None:
    with pytest.raises(StepError, match=r"^input: '2026-11-26' does not match format '%d/%m/%Y'"):
        await date(transform="parse", input="2026-11-26", format="%d/%m/%Y")


async def test_date_parse_with_a_babel_pattern_is_a_step_error_naming_format() -> None:
    with pytest.raises(StepError, match=r"^format: parse reads strftime patterns"):
        await date(transform="parse", input="26/11/2026", format="dd/MM/y")


async def test_date_bad_transform_is_a_validation_error_naming_the_argument() -> None:
    with pytest.raises(ValidationError) as info:
        await date(transform="subtract", input="2026-11-26", days=1)
    assert [p.field for p in info.value.problems] == ["transform"]


# ------------------------------------------------------------------------------------ the app


def test_formatter_app_lists_its_actions_with_dropdown_transforms() -> None:
    described = APP.to_dict()
    assert (described["key"], described["name"]) == ("formatter", "Formatter")
    assert [a["key"] for a in described["actions"]] == ["text", "number", "date"]
    text_schema = described["actions"][0]["arguments"]
    assert text_schema["required"] == ["transform"]
    assert text_schema["properties"]["transform"]["enum"] == [
        "upper",
        "lower",
        "trim",
        "title",
        "slugify",
        "replace",
        "split",
        "join",
        "truncate",
        "default",
    ]
    assert "type" not in text_schema["properties"]["input"]  # any value: text or a list


def test_import_of_formatter_does_not_import_babel() -> None:
    import subprocess
    import sys

    code = "import sys, docg_core.builtin.formatter; print('babel' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"
