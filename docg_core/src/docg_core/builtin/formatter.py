"""The Formatter app: text, number and date transforms for values passed between steps.

Every action returns data ``{"value": ...}``.

Date patterns (``format`` of the ``date`` action) come in two syntaxes, told apart by ``%``:

- a pattern containing ``%`` is strftime syntax (``%d/%m/%Y``); its name directives
  ``%A %a %B %b %h`` use the names of ``locale`` (``%B`` is "novembro" in pt-BR);
- any other pattern is a Babel (Unicode LDML) pattern (``d 'de' MMMM 'de' y``), or one of the
  names ``short``, ``medium``, ``long``, ``full`` for the locale's own layouts.

Babel is imported inside the functions that need it, so ``import docg_core`` stays fast.
"""

from __future__ import annotations

import calendar
import copy
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from docg_core.apps import (
    ActionArgument,
    ActionResult,
    ArgumentType,
    BaseAction,
    BaseApp,
    DropdownOption,
)
from docg_core.errors import StepError

if TYPE_CHECKING:
    from babel import Locale

    from docg_core.context import ExecutionContext

__all__ = ["DateAction", "FormatterApp", "NumberAction", "TextAction"]

DEFAULT_LOCALE = "pt-BR"
DEFAULT_TIMEZONE = "UTC"
DEFAULT_SEPARATOR = ","
DEFAULT_SUFFIX = "…"
MAX_DECIMALS = 20
NAMED_DATE_FORMATS = ("short", "medium", "long", "full")


@dataclass(frozen=True)
class _AnyValueArgument(ActionArgument):
    """An argument taking any JSON value as given: text, number, list or object.

    ``ArgumentType`` has no "any value" kind (STRING rejects lists, JSON parses text), so this
    keeps ``type`` for how a UI renders it and skips coercion.
    """

    def coerce(self, value: Any) -> Any:
        return value

    def json_schema(self) -> dict[str, Any]:
        schema = super().json_schema()
        schema.pop("type", None)
        return schema


def _options(*values: str) -> tuple[DropdownOption, ...]:
    return tuple(DropdownOption(v, v.capitalize()) for v in values)


def _invalid(argument: str, message: str) -> StepError:
    """A step error about one argument; the message starts with the argument key."""
    return StepError(
        f"{argument}: {message}", code="invalid_argument", details={"argument": argument}
    )


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _value(value: Any) -> ActionResult:
    return ActionResult(raw={"value": value}, data={"value": value})


def _whole_number(value: Any, argument: str, *, minimum: int | None = None) -> int:
    """``value`` as an int, or a step error naming ``argument``."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise _invalid(argument, f"expected a whole number, got {value!r}")
    number = int(value)
    if minimum is not None and number < minimum:
        raise _invalid(argument, f"must be at least {minimum}, got {number}")
    return number


# --------------------------------------------------------------------------------------- text

TEXT_TRANSFORMS = (
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
)

# A word: letters and digits, with inner apostrophes ("don't", "d'ávila").
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")


def _as_text(value: Any, transform: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    kind = "a list" if isinstance(value, list) else "an object"
    raise _invalid("input", f"{transform} needs text, got {kind}")


def _item_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return _as_text(value, "join")


def _title(text: str) -> str:
    return _WORD.sub(lambda m: m[0][:1].upper() + m[0][1:].lower(), text)


def slugify(text: str) -> str:
    """``"São Paulo — Nº 5"`` → ``"sao-paulo-no-5"``: ASCII, lowercase, words joined by hyphens."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def _truncate(text: str, length: int, suffix: str) -> str:
    if len(text) <= length:
        return text
    if len(suffix) >= length:
        return text[:length]
    return text[: length - len(suffix)].rstrip() + suffix


class TextAction(BaseAction):
    """Transform text: case, trim, slug, replace, split/join, truncate, or a default."""

    key = "text"
    name = "Text"
    description = (
        "Change text (upper, lower, trim, title, slugify, replace, truncate), split text into a "
        "list or join a list into text, or use a default when the input is empty."
    )
    arguments = (
        ActionArgument(
            key="transform",
            label="Transform",
            type=ArgumentType.DROPDOWN,
            required=True,
            options=_options(*TEXT_TRANSFORMS),
            description="What to do with the input.",
        ),
        _AnyValueArgument(
            key="input",
            label="Input",
            type=ArgumentType.MULTILINE,
            description="The text to transform; a list for join; any value for default.",
        ),
        ActionArgument(key="find", label="Find", description="replace: the text to look for."),
        ActionArgument(
            key="replace_with",
            label="Replace with",
            description="replace: what to put instead; empty removes the text found.",
        ),
        ActionArgument(
            key="separator",
            label="Separator",
            default=DEFAULT_SEPARATOR,
            description="split, join: the text between items.",
        ),
        ActionArgument(
            key="length",
            label="Length",
            type=ArgumentType.NUMBER,
            description="truncate: the maximum length of the result, suffix included.",
        ),
        ActionArgument(
            key="suffix",
            label="Suffix",
            description='truncate: appended when the text is cut; "…" when not given, "" for none.',
        ),
        _AnyValueArgument(
            key="default_value",
            label="Default value",
            type=ArgumentType.MULTILINE,
            description="default: the value returned when the input is empty.",
        ),
    )

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        """Apply the transform; data ``{"value": ...}``."""
        return _value(transform_text(ctx.step.parameters))


def transform_text(params: Mapping[str, Any]) -> Any:
    """The result of the ``text`` action for validated ``params``."""
    transform = params["transform"]
    value = params.get("input")
    if transform == "default":
        return params.get("default_value") if _is_empty(value) else value
    if transform == "join":
        if value is None:
            return ""
        if not isinstance(value, list):
            raise _invalid("input", f"join needs a list, got {type(value).__name__}")
        separator = params.get("separator")
        separator = DEFAULT_SEPARATOR if separator is None else separator
        return separator.join(_item_text(item) for item in value)
    text = _as_text(value, transform)
    if transform == "upper":
        return text.upper()
    if transform == "lower":
        return text.lower()
    if transform == "trim":
        return text.strip()
    if transform == "title":
        return _title(text)
    if transform == "slugify":
        return slugify(text)
    if transform == "replace":
        find = params.get("find")
        if not find:
            raise _invalid("find", "replace needs the text to look for")
        return text.replace(find, params.get("replace_with") or "")
    if transform == "split":
        separator = params.get("separator") or DEFAULT_SEPARATOR
        return [part.strip() for part in text.split(separator)] if text else []
    if transform == "truncate":
        if params.get("length") is None:
            raise _invalid("length", "truncate needs the maximum length")
        length = _whole_number(params["length"], "length", minimum=0)
        suffix = params.get("suffix")
        return _truncate(text, length, DEFAULT_SUFFIX if suffix is None else suffix)
    raise _invalid("transform", f"unknown transform {transform!r}")


# ------------------------------------------------------------------------------------- number


def _babel_locale(name: Any) -> Locale:
    """A Babel locale from ``"pt-BR"``, ``"pt_BR"`` or ``"en"``; a step error if unknown."""
    from babel import Locale, UnknownLocaleError

    if not isinstance(name, str) or not name.strip():
        raise _invalid("locale", f"expected a locale such as pt-BR or en-US, got {name!r}")
    try:
        return Locale.parse(name.strip().replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        raise _invalid(
            "locale", f"unknown locale {name!r}; use a name such as pt-BR or en-US"
        ) from None


def _decimal(value: Any) -> Decimal:
    text = str(value).strip()
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise _invalid(
            "input", f"{value!r} is not a number; write it like 1234.56 (a dot for decimals)"
        ) from None
    if not number.is_finite():
        raise _invalid("input", f"{value!r} is not a finite number")
    return number


def format_number(value: Any, *, locale: str = DEFAULT_LOCALE, decimals: int = 2) -> str:
    """``1234.56`` → ``"1.234,56"`` (pt-BR) or ``"1,234.56"`` (en-US).

    Rounds half up to ``decimals`` places and always shows that many; grouping follows the
    locale. ``value`` is a number or a numeric string in machine form (``"1234.56"``).
    """
    number = _decimal(value)
    babel_locale = _babel_locale(locale)
    with localcontext() as context:
        context.prec = 100
        try:
            rounded = number.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
        except InvalidOperation:
            raise _invalid("input", f"{value!r} is too large to format") from None
    if rounded.is_zero():
        rounded = abs(rounded)  # no "-0,00"
    pattern = copy.copy(babel_locale.decimal_formats[None])
    pattern.frac_prec = (decimals, decimals)
    return str(pattern.apply(rounded, babel_locale))


class NumberAction(BaseAction):
    """Format a number for a locale, with a fixed number of decimals."""

    key = "number"
    name = "Number"
    description = 'Format a number the way a locale writes it: 1234.56 → "1.234,56" in pt-BR.'
    arguments = (
        ActionArgument(
            key="transform",
            label="Transform",
            type=ArgumentType.DROPDOWN,
            default="format",
            options=_options("format"),
            description="What to do with the number.",
        ),
        ActionArgument(
            key="input",
            label="Input",
            required=True,
            description="A number, or text holding one in machine form (1234.56).",
        ),
        ActionArgument(
            key="locale",
            label="Locale",
            default=DEFAULT_LOCALE,
            description="How to write it: pt-BR, en-US or any locale Babel knows.",
        ),
        ActionArgument(
            key="decimals",
            label="Decimals",
            type=ArgumentType.NUMBER,
            default=2,
            description="Digits after the decimal separator (rounded half up).",
        ),
    )

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        """Format the input; data ``{"value": "1.234,56"}``."""
        params = ctx.step.parameters
        decimals = _whole_number(params.get("decimals", 2), "decimals", minimum=0)
        if decimals > MAX_DECIMALS:
            raise _invalid("decimals", f"must be at most {MAX_DECIMALS}, got {decimals}")
        formatted = format_number(
            params["input"], locale=params.get("locale") or DEFAULT_LOCALE, decimals=decimals
        )
        return _value(formatted)


# --------------------------------------------------------------------------------------- date

DATE_TRANSFORMS = ("format", "add", "parse")

# strftime directives; "%%" comes first so an escaped percent is never read as a directive.
_NAME_DIRECTIVE = re.compile(r"%%|%[aAbBh]")
_TIME_DIRECTIVE = re.compile(r"%%|%[-#]?[HIMSfpzZTRXcls]")
_Width = Literal["wide", "abbreviated"]
_ENGLISH_MONTHS = (tuple(calendar.month_name[1:]), tuple(calendar.month_abbr[1:]))
_ENGLISH_DAYS = (tuple(calendar.day_name), tuple(calendar.day_abbr))


def _zone(name: Any) -> ZoneInfo:
    if not isinstance(name, str) or not name.strip():
        raise _invalid("timezone", f"expected an IANA time zone name, got {name!r}")
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise _invalid(
            "timezone", f"unknown time zone {name!r}; use an IANA name such as America/Sao_Paulo"
        ) from None


def _normalize(moment: datetime, zone: ZoneInfo) -> datetime:
    # A round trip through UTC moves a wall time that does not exist (DST gap) past the gap.
    return moment.astimezone(UTC).astimezone(zone)


def parse_iso(text: Any, zone: ZoneInfo) -> date | datetime:
    """An ISO 8601 date, or a date-time in ``zone`` (naive values are taken as in ``zone``).

    ``"now"`` and ``"today"`` are the current date-time (to the second) and date in ``zone``.
    """
    if not isinstance(text, str):
        raise _invalid("input", f"expected an ISO 8601 date or date-time, got {text!r}")
    value = text.strip()
    if value.lower() == "now":
        return datetime.now(zone).replace(microsecond=0)
    if value.lower() == "today":
        return datetime.now(zone).date()
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _invalid(
            "input",
            f"{text!r} is not an ISO 8601 date (2026-11-26) or date-time "
            "(2026-11-26T14:30:00-03:00); to read other layouts use the parse transform",
        ) from None
    if moment.tzinfo is None:
        return _normalize(moment.replace(tzinfo=zone), zone)
    return moment.astimezone(zone)


def _strftime(moment: date, pattern: str, babel_locale: Locale) -> str:
    """strftime with the day and month names of ``babel_locale``."""
    from babel import dates

    def name(match: re.Match[str]) -> str:
        directive = match[0]
        if directive == "%%":
            return directive
        width: _Width = "wide" if directive[1] in "AB" else "abbreviated"
        if directive[1] in "aA":
            text = dates.get_day_names(width, locale=babel_locale)[moment.weekday()]
        else:
            text = dates.get_month_names(width, locale=babel_locale)[moment.month]
        return str(text).replace("%", "%%")

    return moment.strftime(_NAME_DIRECTIVE.sub(name, pattern))


def format_date(value: date, pattern: str, *, locale: str, zone: ZoneInfo) -> str:
    """Render ``value`` with a strftime pattern (if it has ``%``) or a Babel pattern/name."""
    from babel import dates

    babel_locale = _babel_locale(locale)
    if "%" in pattern:
        return _strftime(value, pattern, babel_locale)
    try:
        if pattern in NAMED_DATE_FORMATS:
            if isinstance(value, datetime):
                return str(dates.format_datetime(value, pattern, tzinfo=zone, locale=babel_locale))
            return str(dates.format_date(value, pattern, locale=babel_locale))
        if not isinstance(value, datetime):
            value = datetime.combine(value, time(0), tzinfo=zone)
        return str(dates.format_datetime(value, pattern, tzinfo=zone, locale=babel_locale))
    except (ValueError, KeyError, AttributeError, TypeError) as exc:
        raise _invalid("format", f"{pattern!r} is not a valid Babel date pattern ({exc})") from None


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise _invalid("months", "the result is outside the years 1-9999")
    last = calendar.monthrange(year, month + 1)[1]
    return day.replace(year=year, month=month + 1, day=min(day.day, last))


def add_to_date(
    value: date,
    *,
    zone: ZoneInfo,
    days: int = 0,
    hours: float = 0,
    months: int = 0,
) -> date | datetime:
    """``value`` moved by months and days on the calendar (wall clock) and hours in real time.

    A date stays a date unless ``hours`` is given (then it starts at midnight in ``zone``).
    """
    try:
        if hours and not isinstance(value, datetime):
            value = datetime.combine(value, time(0), tzinfo=zone)
        if months:
            value = _add_months(value, months)
        value = value + timedelta(days=days)
        if isinstance(value, datetime):
            # Aware arithmetic in one zone is wall-clock; hours are real time, so add in UTC.
            return (value.astimezone(UTC) + timedelta(hours=hours)).astimezone(zone)
    except OverflowError:
        raise _invalid("days", "the result is outside the years 1-9999") from None
    return value


def _english_names(text: str, pattern: str, babel_locale: Locale) -> str:
    """Replace ``babel_locale``'s day/month names in ``text`` by English ones for strptime."""
    from babel import dates

    if babel_locale.language == "en":
        return text
    directives = {m[0] for m in _NAME_DIRECTIVE.finditer(pattern)}
    pairs: list[tuple[str, str]] = []
    month_widths: tuple[tuple[str, _Width, tuple[str, ...]], ...] = (
        ("%B", "wide", _ENGLISH_MONTHS[0]),
        ("%b", "abbreviated", _ENGLISH_MONTHS[1]),
        ("%h", "abbreviated", _ENGLISH_MONTHS[1]),
    )
    for directive, width, english in month_widths:
        if directive in directives:
            names = dates.get_month_names(width, locale=babel_locale)
            pairs += [(str(names[i + 1]), english[i]) for i in range(12)]
    day_widths: tuple[tuple[str, _Width, tuple[str, ...]], ...] = (
        ("%A", "wide", _ENGLISH_DAYS[0]),
        ("%a", "abbreviated", _ENGLISH_DAYS[1]),
    )
    for directive, width, english in day_widths:
        if directive in directives:
            names = dates.get_day_names(width, locale=babel_locale)
            pairs += [(str(names[i]), english[i]) for i in range(7)]
    if not pairs:
        return text
    lookup = {local.rstrip(".").casefold(): english for local, english in pairs}
    alternatives = sorted(lookup, key=len, reverse=True)
    words = re.compile(
        r"(?<!\w)(" + "|".join(re.escape(a) for a in alternatives) + r")\.?(?!\w)", re.IGNORECASE
    )
    return words.sub(lambda m: lookup[m[1].casefold()], text)


def parse_date(text: Any, pattern: str, *, locale: str, zone: ZoneInfo) -> date | datetime:
    """Read ``text`` written as the strftime ``pattern``; a date unless the pattern has a time.

    Day and month names are read in ``locale`` (``"26 de novembro de 2026"`` with
    ``"%d de %B de %Y"`` in pt-BR).
    """
    if "%" not in pattern:
        raise _invalid("format", f"parse reads strftime patterns such as %d/%m/%Y, got {pattern!r}")
    if not isinstance(text, str):
        raise _invalid("input", f"expected text to parse, got {text!r}")
    source = _english_names(text.strip(), pattern, _babel_locale(locale))
    try:
        moment = datetime.strptime(source, pattern)  # the zone is applied below
    except ValueError as exc:
        raise _invalid("input", f"{text!r} does not match format {pattern!r}: {exc}") from None
    if not any(m[0] != "%%" for m in _TIME_DIRECTIVE.finditer(pattern)):
        return moment.date()
    if moment.tzinfo is None:
        return _normalize(moment.replace(tzinfo=zone), zone)
    return moment.astimezone(zone)


class DateAction(BaseAction):
    """Format, shift or parse dates and date-times, in a time zone and a locale."""

    key = "date"
    name = "Date"
    description = (
        "Format an ISO date for people (26/11/2026, 26 de novembro de 2026), add days, hours "
        "or months to it, or parse a date written in a given format into ISO 8601."
    )
    arguments = (
        ActionArgument(
            key="transform",
            label="Transform",
            type=ArgumentType.DROPDOWN,
            required=True,
            options=_options(*DATE_TRANSFORMS),
            description="format: ISO → text; add: ISO → ISO; parse: text → ISO.",
        ),
        ActionArgument(
            key="input",
            label="Input",
            required=True,
            description="An ISO 8601 date or date-time, now or today; for parse, the text to read.",
        ),
        ActionArgument(
            key="format",
            label="Format",
            description="format, parse: strftime if it contains % (%d/%m/%Y), otherwise a Babel "
            "pattern (d 'de' MMMM 'de' y) or short, medium, long, full. parse takes strftime only.",
        ),
        ActionArgument(
            key="days",
            label="Days",
            type=ArgumentType.NUMBER,
            description="add: whole days to add on the calendar; negative to go back.",
        ),
        ActionArgument(
            key="hours",
            label="Hours",
            type=ArgumentType.NUMBER,
            description="add: hours to add (real elapsed time); negative to go back.",
        ),
        ActionArgument(
            key="months",
            label="Months",
            type=ArgumentType.NUMBER,
            description="add: whole months to add; the day is kept within the month (31 → 28).",
        ),
        ActionArgument(
            key="locale",
            label="Locale",
            default=DEFAULT_LOCALE,
            description="Language of day and month names: pt-BR, en-US or any Babel locale.",
        ),
        ActionArgument(
            key="timezone",
            label="Time zone",
            default=DEFAULT_TIMEZONE,
            description="IANA name (America/Sao_Paulo). Date-times are shown in it; "
            "date-times without an offset are taken as in it.",
        ),
    )

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        """Apply the transform; data ``{"value": ...}`` (text for format, ISO otherwise)."""
        params = ctx.step.parameters
        transform = params["transform"]
        zone = _zone(params.get("timezone") or DEFAULT_TIMEZONE)
        locale = params.get("locale") or DEFAULT_LOCALE
        pattern = params.get("format")
        if transform in ("format", "parse") and not pattern:
            raise _invalid("format", f"{transform} needs a format, such as %d/%m/%Y")
        if transform == "format":
            value = parse_iso(params["input"], zone)
            return _value(format_date(value, str(pattern), locale=locale, zone=zone))
        if transform == "parse":
            parsed = parse_date(params["input"], str(pattern), locale=locale, zone=zone)
            return _value(parsed.isoformat())
        if transform == "add":
            amounts = {k: params.get(k) for k in ("days", "hours", "months")}
            if all(v is None for v in amounts.values()):
                raise _invalid("days", "add needs days, hours or months")
            moved = add_to_date(
                parse_iso(params["input"], zone),
                zone=zone,
                days=_whole_number(amounts["days"] or 0, "days"),
                hours=amounts["hours"] or 0,
                months=_whole_number(amounts["months"] or 0, "months"),
            )
            return _value(moved.isoformat())
        raise _invalid("transform", f"unknown transform {transform!r}")


class FormatterApp(BaseApp):
    """Built-in app that reshapes values between steps: text, numbers and dates."""

    key = "formatter"
    name = "Formatter"
    description = "Transform text, format numbers and dates for a locale, shift and parse dates."
    actions = (TextAction, NumberAction, DateAction)
