"""Built-in template filters: pt-BR and English examples, and what bad input does."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from jinja2 import Undefined

from docg_documents.templating import BUILTIN_FILTERS, make_environment
from docg_documents.templating.filters import (
    cep,
    cnpj,
    cpf,
    currency,
    date,
    default,
    lower,
    number,
    number_to_words,
    phone,
    title,
    upper,
)


def render(source: str, **data: object) -> str:
    return make_environment().from_string(source).render(**data)


# ----------------------------------------------------------------------------- currency


@pytest.mark.parametrize(
    ("value", "args", "expected"),
    [
        (1234.56, (), "R$ 1.234,56"),
        ("1234.56", (), "R$ 1.234,56"),
        (Decimal("1234.5"), (), "R$ 1.234,50"),
        (0, (), "R$ 0,00"),
        (-99.9, (), "-R$ 99,90"),
        ("1.234,56", (), "R$ 1.234,56"),
        ("1,234.56", (), "R$ 1.234,56"),
        (1234.56, ("USD",), "$1,234.56"),
        (1234.56, ("EUR",), "€ 1.234,56"),
        (1234.56, ("EUR", "de_DE"), "1.234,56 €"),
        (1234.56, ("EUR", "en_IE"), "€1,234.56"),
        (1234.56, ("USD", "pt_BR"), "US$ 1.234,56"),
        (1234.56, ("BRL", "en-US"), "R$1,234.56"),
        (1234.5, ("JPY",), "R$ 1.235".replace("R$", "JP¥")),
    ],
)
def test_currency_formats_amounts_in_the_currencys_locale(
    value: object, args: tuple[str, ...], expected: str
) -> None:
    assert currency(value, *args) == expected


def test_currency_rounds_half_away_from_zero() -> None:
    assert currency(0.125) == "R$ 0,13"
    assert currency(-0.125) == "-R$ 0,13"
    assert currency(2.675) == "R$ 2,68"  # the float 2.675 is 2.67499…; its decimal text is not


@pytest.mark.parametrize("value", [None, "", "abc", "R$ 10,00", True, [1], "1.2.3,4,5"])
def test_currency_returns_a_value_it_cannot_read_unchanged(value: object) -> None:
    assert currency(value) is value


@pytest.mark.parametrize(("code", "locale"), [("BRX", None), ("BRL", "xx_YY")])
def test_currency_rejects_a_bad_argument_from_the_author(code: str, locale: str | None) -> None:
    with pytest.raises(ValueError, match=r"currency\(\)"):
        currency(10, code, locale)


# ------------------------------------------------------------------------------- number


def test_number_uses_the_locales_separators() -> None:
    assert number(1234.5) == "1.234,5"
    assert number("1234.5", 2) == "1.234,50"
    assert number(1234.5, 0) == "1.235"
    assert number(1234567.891, 2, "en_US") == "1,234,567.89"
    assert number("n/a") == "n/a"


# --------------------------------------------------------------------------------- date


@pytest.mark.parametrize(
    ("value", "args", "expected"),
    [
        ("2026-11-26", (), "26/11/2026"),
        (dt.date(2026, 11, 26), (), "26/11/2026"),
        (dt.datetime(2026, 11, 26, 14, 5), ("dd/MM/yyyy HH:mm",), "26/11/2026 14:05"),
        ("2026-11-26T14:05:00Z", ("dd/MM/yyyy HH:mm",), "26/11/2026 14:05"),
        ("2026-11-26T14:05:00.000Z", (), "26/11/2026"),
        ("2026-11-26", ("d 'de' MMMM 'de' y",), "26 de novembro de 2026"),
        ("2026-11-26", ("short",), "26/11/2026"),
        ("2026-11-26", ("medium",), "26 de nov. de 2026"),
        ("2026-11-26", ("long",), "26 de novembro de 2026"),
        ("2026-11-26", ("full",), "quinta-feira, 26 de novembro de 2026"),
        ("2026-11-26", ("MMMM d, y", "en"), "November 26, 2026"),
        ("2026-11-26", ("long", "en_US"), "November 26, 2026"),
        ("2026-11-26", ("MM/dd/yyyy", "en_US"), "11/26/2026"),
        (1795651200000, (), "26/11/2026"),  # HubSpot milliseconds
        ("1795651200", (), "26/11/2026"),  # Unix seconds
    ],
)
def test_date_formats_dates_with_babel_patterns(
    value: object, args: tuple[str, ...], expected: str
) -> None:
    assert date(value, *args) == expected


def test_date_converts_to_a_time_zone_when_asked() -> None:
    moment = "2026-11-26T01:30:00Z"
    assert date(moment, "dd/MM/yyyy HH:mm") == "26/11/2026 01:30"
    assert date(moment, "dd/MM/yyyy HH:mm", tz="America/Sao_Paulo") == "25/11/2026 22:30"


@pytest.mark.parametrize("value", [None, "", "amanhã", "26/11/2026", "2026-13-40", True])
def test_date_returns_a_value_it_cannot_read_unchanged(value: object) -> None:
    assert date(value) is value


def test_date_rejects_a_bad_locale_or_time_zone() -> None:
    with pytest.raises(ValueError, match="locale"):
        date("2026-11-26", locale="zz")
    with pytest.raises(ValueError, match="time zone"):
        date("2026-11-26", tz="Mars/Olympus")


# --------------------------------------------------------------- Brazilian identifiers


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12345678909", "123.456.789-09"),
        ("123.456.789-09", "123.456.789-09"),
        (12345678909, "123.456.789-09"),
        (1234567890, "012.345.678-90"),  # an int lost its leading zero
        ("1234567890", "1234567890"),  # 10 digits: not a CPF
        ("123.456.789-0X", "123.456.789-0X"),
    ],
)
def test_cpf(value: object, expected: str) -> None:
    assert cpf(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12345678000195", "12.345.678/0001-95"),
        ("12.345.678/0001-95", "12.345.678/0001-95"),
        (12345678000195, "12.345.678/0001-95"),
        ("12abc34501de35", "12.ABC.345/01DE-35"),  # alphanumeric CNPJ (from July 2026)
        ("1234567800019", "1234567800019"),
    ],
)
def test_cnpj(value: object, expected: str) -> None:
    assert cnpj(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("01310100", "01310-100"),
        (1310100, "01310-100"),
        ("01310-100", "01310-100"),
        ("0131", "0131"),
    ],
)
def test_cep(value: object, expected: str) -> None:
    assert cep(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("11987654321", "(11) 98765-4321"),
        ("1134567890", "(11) 3456-7890"),
        ("+55 11 98765-4321", "(11) 98765-4321"),
        ("5511987654321", "(11) 98765-4321"),
        ("(11) 98765-4321", "(11) 98765-4321"),
        ("011 3456-7890", "(11) 3456-7890"),
        (11987654321, "(11) 98765-4321"),
        ("987654321", "98765-4321"),
        ("08001234567", "0800 123 4567"),
        ("+1 415 555 0100", "+1 415 555 0100"),  # not Brazilian: as given
        ("ramal 12", "ramal 12"),
        ("123", "123"),
    ],
)
def test_phone_formats_brazilian_numbers(value: object, expected: str) -> None:
    assert phone(value) == expected


def test_phone_international_form() -> None:
    assert phone("11987654321", international=True) == "+55 11 98765-4321"


# ---------------------------------------------------------------------------------- text


def test_upper_lower_and_title_keep_accents() -> None:
    assert upper("joão") == "JOÃO"
    assert lower("JOÃO") == "joão"
    assert title("MARIA DA SILVA E SOUZA") == "Maria da Silva e Souza"
    assert title("de paula") == "De Paula"
    assert title("ana d'ávila-lima") == "Ana D'Ávila-Lima"
    assert title("the lord of the rings", "en") == "The Lord Of The Rings"
    assert upper(None) is None


def test_default_replaces_missing_none_and_empty_only() -> None:
    assert default(None, "—") == "—"
    assert default("", "—") == "—"
    assert default(Undefined(name="x"), "—") == "—"
    assert default(0, "—") == 0
    assert default("x", "—") == "x"


def test_default_marks_a_variable_optional_even_in_strict_mode() -> None:
    env = make_environment(strict=True)
    assert env.from_string("{{ deal.discount | default('sem desconto') }}").render(deal={}) == (
        "sem desconto"
    )
    assert env.missing_variables == []
    env.check_missing()


# ------------------------------------------------------------------------ number_to_words


@pytest.mark.parametrize(
    ("value", "kwargs", "expected"),
    [
        (1234, {}, "mil duzentos e trinta e quatro"),
        (1234567, {}, "um milhão duzentos e trinta e quatro mil quinhentos e sessenta e sete"),
        (
            "1234.56",
            {"currency": True},
            "mil duzentos e trinta e quatro reais e cinquenta e seis centavos",
        ),
        (1, {"currency": True}, "um real"),
        (0.01, {"currency": True}, "um centavo"),
        (1000000, {"currency": True}, "um milhão de reais"),
        (2001.01, {"currency": True}, "dois mil e um reais e um centavo"),
        (
            1234.56,
            {"currency": "USD"},
            "mil duzentos e trinta e quatro dólares e cinquenta e seis centavos",
        ),
        (1234, {"lang": "en"}, "one thousand, two hundred and thirty-four"),
        (
            1234.56,
            {"lang": "en", "currency": True},
            "one thousand, two hundred and thirty-four dollars, fifty-six cents",
        ),
        (1.5, {"lang": "en", "currency": "EUR"}, "one euro, fifty cents"),
    ],
)
def test_number_to_words(value: object, kwargs: dict[str, object], expected: str) -> None:
    assert number_to_words(value, **kwargs) == expected  # type: ignore[arg-type]


def test_number_to_words_bad_input() -> None:
    assert number_to_words("abc") == "abc"
    assert number_to_words(10**30) == 10**30  # too large to write
    with pytest.raises(ValueError, match="language"):
        number_to_words(1, lang="xx")
    with pytest.raises(ValueError, match="currency 'BRL'"):
        number_to_words(1, lang="en", currency="BRL")


# ------------------------------------------------------------------------------ in Jinja


def test_every_builtin_filter_is_registered_and_usable_in_a_template() -> None:
    assert set(BUILTIN_FILTERS) == {
        "currency", "number", "date", "cpf", "cnpj", "cep", "phone", "upper", "lower", "title",
        "default", "number_to_words",
    }  # fmt: skip
    source = (
        "{{ v | currency }}|{{ v | currency('USD') }}|{{ d | date(\"d 'de' MMMM 'de' y\") }}|"
        "{{ doc | cpf }}|{{ tel | phone }}|{{ v | number_to_words(currency=true) }}"
    )
    assert render(source, v=1234.56, d="2026-11-26", doc="12345678909", tel="11987654321") == (
        "R$ 1.234,56|$1,234.56|26 de novembro de 2026|123.456.789-09|(11) 98765-4321|"
        "mil duzentos e trinta e quatro reais e cinquenta e seis centavos"
    )


def test_a_filter_given_a_missing_variable_prints_nothing_and_reports_it() -> None:
    env = make_environment()
    context = env.prepare_context({"deal": {}})
    assert env.from_string("[{{ deal.amount | currency }}]").render(context) == "[]"
    assert env.missing_variables == ["deal.amount"]


def test_extra_filters_override_builtins() -> None:
    env = make_environment({"currency": lambda v: f"<{v}>", "shout": lambda v: f"{v}!"})
    assert env.from_string("{{ 1 | currency }} {{ 'oi' | shout }}").render() == "<1> oi!"


def test_the_public_names_resolve_and_filters_load_without_the_office_libraries() -> None:
    import subprocess
    import sys

    import docg_documents.templating as templating

    assert all(getattr(templating, name) is not None for name in templating.__all__)
    code = (
        "import sys, docg_documents.templating.filters; "
        "assert not {'docx', 'pptx', 'docxtpl'} & set(sys.modules), sorted(sys.modules)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
