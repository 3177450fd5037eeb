"""The Schedule app: a trigger that starts a workflow on a cron schedule in a time zone.

Cron expressions have five fields (minute hour day-of-month month day-of-week, e.g.
``"0 9 * * 1"`` for Mondays at 09:00) or are one of ``@hourly @daily @midnight @weekly
@monthly @yearly @annually``. Times are wall-clock times in the trigger's time zone:

- a time skipped when clocks go forward (02:30 on a spring-forward night) fires at the first
  time after the gap (03:00);
- a time repeated when clocks go back fires once, the first time, unless the hour field is a
  wildcard (``*``, ``*/2``): then, like Vixie cron, it fires in both passes of the hour.

croniter is imported inside the functions that need it, so ``import docg_core`` stays fast.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from docg_core.apps import ActionArgument, ActionResult, BaseApp, BaseTrigger, TriggerType
from docg_core.errors import StepError

if TYPE_CHECKING:
    from docg_core.context import ExecutionContext

__all__ = ["CronTrigger", "ScheduleApp", "next_runs"]

DEFAULT_TIMEZONE = "UTC"

# The aliases croniter knows, as five fields (so the hour field can be inspected).
_ALIASES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}


def _fields(cron: str) -> list[str]:
    """The five fields of ``cron``; ``ValueError`` saying what is wrong otherwise."""
    from croniter import CroniterBadDateError, croniter

    text = " ".join(cron.split())
    fields = _ALIASES.get(text.lower(), text).split()
    if len(fields) != 5:
        raise ValueError(
            f"{cron!r} has {len(fields)} fields; a cron expression has 5: "
            "minute hour day-of-month month day-of-week (e.g. '0 9 * * 1')"
        )
    if not croniter.is_valid(" ".join(fields)):
        raise ValueError(
            f"{cron!r} is not a valid cron expression; fields are minute (0-59), hour (0-23), "
            "day of month (1-31), month (1-12) and day of week (0-6, Sunday = 0)"
        )
    try:
        croniter(" ".join(fields), datetime(2000, 1, 1, tzinfo=UTC)).get_next(datetime)
    except CroniterBadDateError:
        raise ValueError(f"{cron!r} never matches a date (such as 30 February)") from None
    return fields


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(
            f"unknown time zone {timezone!r}; use an IANA name such as America/Sao_Paulo"
        ) from None


def next_runs(
    cron: str,
    timezone: str = DEFAULT_TIMEZONE,
    *,
    after: datetime | None = None,
    count: int = 1,
) -> list[datetime]:
    """The next ``count`` fire times of ``cron`` strictly after ``after`` (default: now).

    Returned datetimes are aware, in ``timezone``. A naive ``after`` is taken as in
    ``timezone``. Raises ``ValueError`` for an invalid expression, zone or count.
    """
    from croniter import croniter

    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    fields = _fields(cron)
    zone = _zone(timezone)
    if after is None:
        start = datetime.now(zone)
    elif after.tzinfo is None:
        start = after.replace(tzinfo=zone)
    else:
        start = after.astimezone(zone)
    # A repeated wall-clock time (clocks going back) has fold=1 on its second pass; a job at
    # a fixed hour runs once, in the first pass.
    fixed_hour = not fields[1].startswith("*")
    schedule = croniter(" ".join(fields), start)
    runs: list[datetime] = []
    while len(runs) < count:
        fire: datetime = schedule.get_next(datetime)
        if fixed_hour and fire.fold == 1 and fire.replace(fold=0).utcoffset() != fire.utcoffset():
            continue
        runs.append(fire)
    return runs


class CronTrigger(BaseTrigger):
    """Starts the workflow at each time its cron expression matches, in its time zone."""

    key = "cron"
    name = "On a schedule"
    description = "Start the workflow on a cron schedule, e.g. every Monday at 09:00."
    trigger_type = TriggerType.SCHEDULE
    arguments = (
        ActionArgument(
            key="cron",
            label="Cron expression",
            required=True,
            description="Five fields: minute hour day-of-month month day-of-week. "
            "'0 9 * * 1' is every Monday at 09:00; '*/15 * * * *' every 15 minutes.",
        ),
        ActionArgument(
            key="timezone",
            label="Time zone",
            default=DEFAULT_TIMEZONE,
            description="IANA name of the zone the times are in, such as America/Sao_Paulo.",
        ),
    )

    @classmethod
    def check_parameters(cls, parameters: Mapping[str, Any]) -> list[str]:
        """Problems with a literal cron expression or time zone (values with ``{{`` skipped)."""
        problems: list[str] = []
        cron = parameters.get("cron")
        if isinstance(cron, str) and cron.strip() and "{{" not in cron:
            try:
                _fields(cron)
            except ValueError as exc:
                problems.append(f"cron: {exc}")
        elif cron is not None and not isinstance(cron, str):
            problems.append(f"cron: expected text such as '0 9 * * 1', got {cron!r}")
        timezone = parameters.get("timezone")
        if isinstance(timezone, str) and timezone.strip() and "{{" not in timezone:
            try:
                _zone(timezone.strip())
            except ValueError as exc:
                problems.append(f"timezone: {exc}")
        elif timezone is not None and not isinstance(timezone, str):
            problems.append(f"timezone: expected an IANA name, got {timezone!r}")
        return problems

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        """Data ``{"scheduled_at", "timezone"}``: the fire time the scheduler passed in
        ``ctx.trigger_output["scheduled_at"]`` (or now), in the trigger's time zone."""
        timezone = str(ctx.step.parameters.get("timezone") or DEFAULT_TIMEZONE).strip()
        try:
            zone = _zone(timezone)
        except ValueError as exc:
            raise StepError(f"timezone: {exc}", code="invalid_argument") from None
        output = ctx.trigger_output if isinstance(ctx.trigger_output, Mapping) else {}
        scheduled = _fire_time(output.get("scheduled_at"), zone)
        data = {"scheduled_at": scheduled.isoformat(), "timezone": timezone}
        return ActionResult(raw=dict(data), data=data)


def _fire_time(value: Any, zone: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value.strip():
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise StepError(
                f"scheduled_at: {value!r} is not an ISO 8601 date-time", code="invalid_argument"
            ) from None
    else:
        return datetime.now(zone).replace(microsecond=0)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone)


class ScheduleApp(BaseApp):
    """Built-in app whose trigger starts workflows on a cron schedule."""

    key = "schedule"
    name = "Schedule"
    description = "Run workflows on a schedule."
    triggers = (CronTrigger,)
