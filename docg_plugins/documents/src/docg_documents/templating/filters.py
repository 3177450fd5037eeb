"""Built-in Jinja filters for document templates, Brazilian formats first.

Each filter is a plain function ``(value, *args) -> value``. The rule for bad input:

- a **value** a filter cannot format (a CPF with 10 digits, ``"abc"`` given to ``currency``,
  ``None``, a missing variable) is returned **unchanged** — data problems never break a
  document, and a value that is already formatted passes through;
- a bad **argument** written by the template author (an unknown currency code, locale,
  language or date pattern) raises :class:`ValueError`, which the renderers turn into a
  :class:`~docg_documents.templating.TemplateRenderError` naming the filter, so a test run
  catches the mistake.

Numbers may be ``int``, ``float``, ``Decimal`` or strings: ``"1234.56"`` (machine form, as CRM
APIs send), ``"1234,56"``, ``"1.234,56"`` and ``"1,234.56"``. Money is rounded half away
from zero to the currency's digits (``0.125`` → ``0,13``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal, get_currency_precision, is_currency
from jinja2 import Undefined
from num2words import CONVERTER_CLASSES, num2words

__all__ = [
    "BUILTIN_FILTERS",
    "cep",
    "cnpj",
    "cpf",
    "currency",
    "date",
    "default",
    "lower",
    "number",
    "number_to_words",
    "phone",
    "title",
    "upper",
]

# The locale whose conventions a currency is written in when the template names none.
_CURRENCY_LOCALES = {"BRL": "pt_BR", "USD": "en_US", "GBP": "en_GB", "CAD": "en_CA"}
_DEFAULT_CURRENCY_LOCALE = "pt_BR"
_NAMED_DATE_FORMATS = frozenset({"short", "medium", "long", "full"})


# ------------------------------------------------------------------------------- helpers


def _locale(locale: object, filter_name: str) -> Locale:
    return _parse_locale(str(locale), filter_name)


@lru_cache(maxsize=64)
def _parse_locale(locale: str, filter_name: str) -> Locale:
    try:
        return Locale.parse(locale.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        raise ValueError(
            f"{filter_name}(): unknown locale {locale!r}; use e.g. 'pt_BR' or 'en_US'"
        ) from None


_INTEGER = re.compile(r"[+-]?\d+")
_DOT_DECIMAL = re.compile(r"[+-]?\d*\.\d+")  # 1234.56 (machine form)
_COMMA_DECIMAL = re.compile(r"[+-]?\d*,\d+")  # 1234,56
_PT_GROUPED = re.compile(r"[+-]?\d{1,3}(?:\.\d{3})+(?:,\d+)?")  # 1.234.567,89
_EN_GROUPED = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")  # 1,234,567.89


def _to_decimal(value: object) -> Decimal | None:
    """The number in ``value``, or None when it holds none (booleans are not numbers)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip()
        if _INTEGER.fullmatch(text) or _DOT_DECIMAL.fullmatch(text):
            number = Decimal(text)
        elif _COMMA_DECIMAL.fullmatch(text):
            number = Decimal(text.replace(",", "."))
        elif _PT_GROUPED.fullmatch(text):
            number = Decimal(text.replace(".", "").replace(",", "."))
        elif _EN_GROUPED.fullmatch(text):
            number = Decimal(text.replace(",", ""))
        else:
            return None
    else:
        return None
    return number if number.is_finite() else None


def _round(number: Decimal, digits: int) -> Decimal:
    try:
        return number.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    except InvalidOperation:  # more digits than the decimal context holds
        return number


@lru_cache(maxsize=64)
def _is_currency(code: str) -> bool:
    return bool(is_currency(code))


def _spaces(text: str) -> str:
    # Babel separates symbol and amount with no-break spaces; authors search and compare
    # documents with ordinary ones ("R$ 1.234,56").
    return text.replace("\xa0", " ").replace("\u202f", " ")


def _passthrough(value: object) -> bool:
    """Values every filter returns as they are: missing variables and None."""
    return value is None or isinstance(value, Undefined)


# ------------------------------------------------------------------------------- numbers


def currency(value: Any, code: str = "BRL", locale: str | None = None) -> Any:
    """Format an amount of money: ``1234.56`` → ``R$ 1.234,56`` (BRL, the default).

    ``code`` is an ISO 4217 currency code. Without ``locale`` the currency is written as its
    home country writes it when DocG knows one (USD → ``$1,234.56``, GBP → ``£1,234.56``),
    otherwise as Brazilians write it (EUR → ``€ 1.234,56``); pass ``locale`` to choose
    (``currency(v, "EUR", "de_DE")`` → ``1.234,56 €``).
    """
    code = str(code).upper()
    if not _is_currency(code):
        raise ValueError(f"currency(): unknown currency code {code!r}; use e.g. 'BRL' or 'USD'")
    where = _locale(locale or _CURRENCY_LOCALES.get(code, _DEFAULT_CURRENCY_LOCALE), "currency")
    amount = _to_decimal(value)
    if amount is None:
        return value
    amount = _round(amount, get_currency_precision(code))
    return _spaces(format_currency(amount, code, locale=where))


def number(value: Any, decimals: int | None = None, locale: str = "pt_BR") -> Any:
    """Format a number with the locale's separators: ``1234.5`` → ``1.234,5``.

    ``decimals`` fixes the digits after the separator (``number(1234.5, 2)`` → ``1.234,50``);
    without it the value keeps its own digits.
    """
    where = _locale(locale, "number")
    if decimals is not None and (
        isinstance(decimals, bool) or not isinstance(decimals, int) or not 0 <= decimals <= 20
    ):
        raise ValueError(f"number(): decimals must be a whole number 0-20, not {decimals!r}")
    amount = _to_decimal(value)
    if amount is None:
        return value
    if decimals is None:
        return _spaces(format_decimal(amount, locale=where, decimal_quantization=False))
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return _spaces(format_decimal(_round(amount, decimals), format=pattern, locale=where))


# --------------------------------------------------------------------------------- dates


def _to_moment(value: object) -> dt.date | None:
    """A date or datetime from a date, datetime, ISO 8601 string or Unix timestamp."""
    if isinstance(value, dt.date):  # datetime is a date too
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d{10}|\d{13}", text):  # Unix seconds / milliseconds (HubSpot v1)
            value = int(text)
        else:
            try:
                if len(text) == 10:
                    return dt.date.fromisoformat(text)
                return dt.datetime.fromisoformat(text)
            except ValueError:
                return None
    if isinstance(value, int | float):
        seconds = value / 1000 if abs(value) >= 1e11 else value
        try:
            return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return None


def date(
    value: Any, format: str = "dd/MM/yyyy", locale: str = "pt_BR", tz: str | None = None
) -> Any:
    """Format a date: ``"2026-11-26"`` → ``26/11/2026``.

    ``format`` is a Babel/CLDR pattern (``d 'de' MMMM 'de' y`` → ``26 de novembro de 2026``;
    ``dd/MM/yyyy HH:mm`` for the time) or one of ``short``, ``medium``, ``long``, ``full``
    (the locale's own date styles). Values: ``date``, ``datetime``, ISO 8601 strings
    (``2026-11-26``, ``2026-11-26T14:05:00Z``) and Unix timestamps in seconds or milliseconds.
    ``tz`` (``"America/Sao_Paulo"``) converts a time-zone-aware value before formatting;
    without it the value is shown in its own time zone (UTC for timestamps).
    """
    where = _locale(locale, "date")
    zone = None
    if tz is not None:
        try:
            zone = ZoneInfo(str(tz))
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"date(): unknown time zone {tz!r}; use e.g. 'America/Sao_Paulo'"
            ) from None
    moment = _to_moment(value)
    if moment is None:
        return value
    if zone is not None and isinstance(moment, dt.datetime) and moment.tzinfo is not None:
        moment = moment.astimezone(zone)
    try:
        if format in _NAMED_DATE_FORMATS:
            day = moment.date() if isinstance(moment, dt.datetime) else moment
            return format_date(day, format, locale=where)
        if not isinstance(moment, dt.datetime):
            moment = dt.datetime.combine(moment, dt.time())
        return format_datetime(moment, str(format), locale=where)
    except (ValueError, KeyError, AttributeError, TypeError) as exc:
        raise ValueError(f"date(): invalid format {format!r} ({exc})") from None


# ----------------------------------------------------------------- Brazilian identifiers


def _identifier(value: object, length: int, *, alphanumeric: bool = False) -> str | None:
    """The characters of a document number, or None when ``value`` is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        text = str(value).zfill(length) if value >= 0 else ""
    elif isinstance(value, str):
        allowed = r"[0-9A-Za-z.\-/\s]+" if alphanumeric else r"[\d.\-/\s]+"
        if not re.fullmatch(allowed, value.strip()):
            return None
        text = re.sub(r"[.\-/\s]", "", value).upper()
    else:
        return None
    if len(text) != length:
        return None
    if alphanumeric:
        # Since July 2026 a CNPJ may hold letters in its first 12 characters (IN RFB 2.229/2024).
        return text if re.fullmatch(r"[0-9A-Z]{12}\d{2}", text) else None
    return text if text.isdigit() else None


def cpf(value: Any) -> Any:
    """Format a CPF: ``12345678909`` → ``123.456.789-09`` (check digits are not validated)."""
    digits = _identifier(value, 11)
    if digits is None:
        return value
    return f"{digits[:3]}.{digits[3:6]}.{digits[6:9]}-{digits[9:]}"


def cnpj(value: Any) -> Any:
    """Format a CNPJ: ``12345678000195`` → ``12.345.678/0001-95`` (alphanumeric CNPJs too)."""
    chars = _identifier(value, 14, alphanumeric=True)
    if chars is None:
        return value
    return f"{chars[:2]}.{chars[2:5]}.{chars[5:8]}/{chars[8:12]}-{chars[12:]}"


def cep(value: Any) -> Any:
    """Format a CEP (postal code): ``1310100`` or ``"01310100"`` → ``01310-100``."""
    digits = _identifier(value, 8)
    if digits is None:
        return value
    return f"{digits[:5]}-{digits[5:]}"


def phone(value: Any, international: bool = False) -> Any:
    """Format a Brazilian phone number: ``11987654321`` → ``(11) 98765-4321``.

    Landlines: ``(11) 3456-7890``; ``+55``/``55`` and the trunk ``0`` are understood; without
    an area code: ``98765-4321``; toll-free: ``0800 123 4567``. ``international=True`` writes
    ``+55 11 98765-4321``. Numbers of other countries (``+1 …``) are returned as given.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        return value
    if not re.fullmatch(r"\+?[\d\s().\-]+", text):
        return value
    digits = re.sub(r"\D", "", text)
    if text.startswith("+"):
        if not digits.startswith("55"):
            return value
        digits = digits[2:]
    elif len(digits) in (12, 13) and digits.startswith("55"):
        digits = digits[2:]
    if len(digits) == 11 and digits[:4] in ("0800", "0300", "0500", "0900"):
        return f"{digits[:4]} {digits[4:7]} {digits[7:]}"
    if len(digits) in (11, 12) and digits.startswith("0"):
        digits = digits[1:]
    area, local = "", digits
    if len(digits) in (10, 11):
        area, local = digits[:2], digits[2:]
        if area[0] == "0" or area[1] == "0" or (len(local) == 9 and local[0] != "9"):
            return value
    elif len(digits) not in (8, 9) or (len(digits) == 9 and digits[0] != "9"):
        return value
    number_part = f"{local[:-4]}-{local[-4:]}"
    if international:
        return f"+55 {area} {number_part}" if area else f"+55 {number_part}"
    return f"({area}) {number_part}" if area else number_part


# ---------------------------------------------------------------------------------- text


def upper(value: Any) -> Any:
    """``joão`` → ``JOÃO``."""
    return value if _passthrough(value) else str(value).upper()


def lower(value: Any) -> Any:
    """``JOÃO`` → ``joão``."""
    return value if _passthrough(value) else str(value).lower()


_PARTICLES = {
    "pt": frozenset({"de", "da", "do", "das", "dos", "e"}),
    "es": frozenset({"de", "del", "la", "las", "los", "y"}),
    "fr": frozenset({"de", "du", "des", "la", "le", "et"}),
    "it": frozenset({"di", "da", "del", "della", "e"}),
}


def title(value: Any, lang: str = "pt_BR") -> Any:
    """Capitalise each word: ``MARIA DA SILVA`` → ``Maria da Silva``.

    Connecting words of the language stay lower case (pt: de, da, do, das, dos, e), except
    the first word; letters after ``-`` and ``'`` are capitalised (``D'Ávila``).
    """
    if _passthrough(value):
        return value
    particles = _PARTICLES.get(str(lang).replace("-", "_").split("_")[0].lower(), frozenset())
    words = str(value).split(" ")
    out = []
    for index, word in enumerate(words):
        lowered = word.lower()
        if index and lowered in particles:
            out.append(lowered)
        else:
            out.append(re.sub(r"(^|[-'’])(\w)", lambda m: m[1] + m[2].upper(), lowered))
    return " ".join(out)


def default(value: Any, fallback: Any = "") -> Any:
    """``fallback`` when the value is missing, None or ``""``; the value otherwise.

    A missing variable given a default is not reported as missing (not even in strict mode):
    that is how a template marks a value optional.
    """
    if isinstance(value, Undefined) or value is None or value == "":
        return fallback
    return value


# --------------------------------------------------------------------- numbers in words

# The currency a language's speakers most likely mean by ``currency=True``.
_WORDS_CURRENCY = {"pt_BR": "BRL", "en": "USD", "en_IN": "INR", "ja": "JPY", "pl": "PLN"}


def _words_language(lang: str) -> str:
    code = str(lang).replace("-", "_")
    if code in CONVERTER_CLASSES:
        return code
    prefix = code.split("_")[0].lower()
    if prefix in CONVERTER_CLASSES:
        return prefix
    raise ValueError(f"number_to_words(): unsupported language {lang!r}; use e.g. 'pt_BR' or 'en'")


def _pt_br_currency(amount: Decimal, code: str) -> str:
    cents = int((abs(amount) % 1) * 100)
    if code == "BRL":
        words = str(num2words(amount, lang="pt_BR", to="currency"))
        if abs(amount) < 1 and cents:  # "zero reais e cinquenta centavos" → "cinquenta centavos"
            words = words.replace("zero reais e ", "", 1)
    else:
        # The Brazilian converter only knows reais; the Portuguese one knows the other
        # currencies, with the European "cêntimos".
        words = str(num2words(amount, lang="pt", to="currency", currency=code))
        words = words.replace("cêntimos", "centavos").replace("cêntimo", "centavo")
    return words.replace(",", "")  # Brazilian usage: "mil duzentos e trinta e quatro"


def number_to_words(value: Any, lang: str = "pt_BR", currency: bool | str = False) -> Any:
    """Write a number in words: ``1234`` → ``mil duzentos e trinta e quatro``.

    ``currency=True`` writes an amount of money in the language's usual currency (pt_BR: reais,
    en: dollars): ``1234.56`` → ``mil duzentos e trinta e quatro reais e cinquenta e seis
    centavos``; ``currency="EUR"`` chooses the currency. ``lang`` is a num2words language
    (``pt_BR``, ``pt``, ``en``, ``es``, ``fr``, ``de`` …).
    """
    language = _words_language(lang)
    code: str | None = None
    if currency:
        if isinstance(currency, str):
            code = currency.upper()
        else:
            code = _WORDS_CURRENCY.get(language, "EUR")
    amount = _to_decimal(value)
    if amount is None:
        return value
    try:
        if code is not None:
            amount = _round(amount, 2)
            if language == "pt_BR":
                return _pt_br_currency(amount, code)
            return str(num2words(amount, lang=language, to="currency", currency=code))
        number_value: int | Decimal = int(amount) if amount == amount.to_integral() else amount
        words = str(num2words(number_value, lang=language))
    except NotImplementedError:
        raise ValueError(
            f"number_to_words(): currency {code!r} is not supported in language {lang!r}"
        ) from None
    except (OverflowError, InvalidOperation, ValueError, TypeError):
        return value  # too large, or a value num2words cannot write
    return words.replace(",", "") if language == "pt_BR" else words


BUILTIN_FILTERS: dict[str, Callable[..., Any]] = {
    "currency": currency,
    "number": number,
    "date": date,
    "cpf": cpf,
    "cnpj": cnpj,
    "cep": cep,
    "phone": phone,
    "upper": upper,
    "lower": lower,
    "title": title,
    "default": default,
    "number_to_words": number_to_words,
}
"""The filters every template has, by name; plugins' filters override them on a name clash."""
