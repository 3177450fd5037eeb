"""The Schedule app: cron fire times in a time zone, save-time checks and the trigger output."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from docg_core.apps import TriggerType, validate_arguments
from docg_core.builtin.schedule import CronTrigger, ScheduleApp, next_runs
from docg_core.context import AppInfo, ExecutionInfo, FlowInfo, StepInfo, build_context
from docg_core.errors import StepError, ValidationError
from docg_core.store import InMemoryStore

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
NEW_YORK = ZoneInfo("America/New_York")


async def fire(parameters: dict[str, Any], trigger_output: Any = None) -> dict[str, Any]:
    """Run the cron trigger as the engine would: validate its arguments, then ``run``."""
    params = validate_arguments(CronTrigger.arguments, parameters, node_id="trigger")
    ctx = build_context(
        store=InMemoryStore(),
        app=AppInfo("schedule", "Schedule"),
        flow=FlowInfo(None, "test"),
        step=StepInfo(
            id="trigger",
            key="trigger",
            app="schedule",
            action="cron",
            parameters=params,
            idempotency_key="e1:trigger",
        ),
        execution=ExecutionInfo("e1", test_run=True),
        trigger_output=trigger_output,
    )
    result = await CronTrigger().run(ctx)
    assert result.raw == result.data
    return result.data


# ---------------------------------------------------------------------------------- next_runs


def test_next_runs_are_weekly_at_nine_in_the_timezone() -> None:
    runs = next_runs(
        "0 9 * * 1", "America/Sao_Paulo", after=datetime(2026, 11, 26, tzinfo=UTC), count=3
    )
    assert runs == [
        datetime(2026, 11, 30, 9, tzinfo=SAO_PAULO),
        datetime(2026, 12, 7, 9, tzinfo=SAO_PAULO),
        datetime(2026, 12, 14, 9, tzinfo=SAO_PAULO),
    ]
    assert runs[0].isoformat() == "2026-11-30T09:00:00-03:00"
    assert runs[0].astimezone(UTC) == datetime(2026, 11, 30, 12, tzinfo=UTC)


def test_next_runs_are_strictly_after_the_start() -> None:
    start = datetime(2026, 11, 30, 9, tzinfo=SAO_PAULO)
    assert next_runs("0 9 * * 1", "America/Sao_Paulo", after=start) == [
        datetime(2026, 12, 7, 9, tzinfo=SAO_PAULO)
    ]


def test_next_runs_take_a_naive_start_as_in_the_timezone() -> None:
    (run,) = next_runs("30 8 * * *", "America/Sao_Paulo", after=datetime(2026, 11, 26, 8, 0))
    assert run == datetime(2026, 11, 26, 8, 30, tzinfo=SAO_PAULO)


def test_next_runs_default_to_utc() -> None:
    (run,) = next_runs("0 0 1 * *", after=datetime(2026, 11, 26, tzinfo=UTC))
    assert run == datetime(2026, 12, 1, tzinfo=UTC)
    assert run.utcoffset() == timedelta(0)


def test_next_runs_default_to_after_now() -> None:
    before = datetime.now(UTC)
    (run,) = next_runs("* * * * *")
    assert before < run <= before + timedelta(minutes=1)


def test_next_runs_keep_the_wall_clock_across_dst() -> None:
    runs = next_runs(
        "0 9 * * *", "America/New_York", after=datetime(2026, 3, 7, 12, tzinfo=NEW_YORK), count=2
    )
    assert [r.isoformat() for r in runs] == [
        "2026-03-08T09:00:00-04:00",
        "2026-03-09T09:00:00-04:00",
    ]


def test_next_runs_fire_a_time_skipped_by_dst_after_the_gap() -> None:
    (run,) = next_runs("30 2 * * *", "America/New_York", after=datetime(2026, 3, 7, 12))
    assert run.isoformat() == "2026-03-08T03:00:00-04:00"


def test_next_runs_fire_a_fixed_time_once_when_clocks_go_back() -> None:
    runs = next_runs("30 1 * * *", "America/New_York", after=datetime(2026, 10, 31, 12), count=2)
    assert [r.isoformat() for r in runs] == [
        "2026-11-01T01:30:00-04:00",
        "2026-11-02T01:30:00-05:00",
    ]


def test_next_runs_fire_an_hourly_job_in_both_passes_of_a_repeated_hour() -> None:
    runs = next_runs("0 * * * *", "America/New_York", after=datetime(2026, 11, 1, 0, 30), count=3)
    assert [r.isoformat() for r in runs] == [
        "2026-11-01T01:00:00-04:00",
        "2026-11-01T01:00:00-05:00",
        "2026-11-01T02:00:00-05:00",
    ]


def test_next_runs_accept_an_alias() -> None:
    (run,) = next_runs("@daily", after=datetime(2026, 11, 26, 10, tzinfo=UTC))
    assert run == datetime(2026, 11, 27, tzinfo=UTC)


def test_next_runs_reject_an_invalid_expression() -> None:
    with pytest.raises(ValueError, match="not a valid cron expression"):
        next_runs("61 * * * *")


def test_next_runs_reject_an_unknown_timezone() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        next_runs("0 9 * * 1", "Mars/Olympus")


def test_next_runs_reject_a_count_below_one() -> None:
    with pytest.raises(ValueError, match="count must be at least 1"):
        next_runs("0 9 * * 1", count=0)


# --------------------------------------------------------------------------- check_parameters


def test_check_parameters_accepts_a_valid_cron_and_timezone() -> None:
    assert (
        CronTrigger.check_parameters({"cron": "0 9 * * 1-5", "timezone": "America/Sao_Paulo"}) == []
    )


@pytest.mark.parametrize(
    ("cron", "message"),
    [
        ("61 * * * *", "cron: '61 * * * *' is not a valid cron expression"),
        ("0 9 * *", "cron: '0 9 * *' has 4 fields; a cron expression has 5"),
        ("0 0 9 * * 1", "cron: '0 0 9 * * 1' has 6 fields"),
        ("every monday", "cron: 'every monday' has 2 fields"),
        ("0 0 30 2 *", "cron: '0 0 30 2 *' never matches a date"),
    ],
)
def test_check_parameters_reports_an_invalid_cron(cron: str, message: str) -> None:
    (problem,) = CronTrigger.check_parameters({"cron": cron})
    assert problem.startswith(message)


def test_check_parameters_reports_an_unknown_timezone() -> None:
    problems = CronTrigger.check_parameters({"cron": "0 9 * * 1", "timezone": "America/Sao Paulo"})
    assert problems == [
        "timezone: unknown time zone 'America/Sao Paulo'; use an IANA name such as "
        "America/Sao_Paulo"
    ]


def test_check_parameters_skips_values_with_variables() -> None:
    parameters = {"cron": "{{flow.cron}}", "timezone": "{{flow.timezone}}"}
    assert CronTrigger.check_parameters(parameters) == []


def test_missing_cron_is_a_validation_error_naming_cron() -> None:
    with pytest.raises(ValidationError) as info:
        validate_arguments(CronTrigger.arguments, {"timezone": "UTC"})
    assert [p.field for p in info.value.problems] == ["cron"]


# -------------------------------------------------------------------------------- the trigger


async def test_trigger_output_is_the_fire_time_in_the_timezone() -> None:
    data = await fire(
        {"cron": "0 9 * * 1", "timezone": "America/Sao_Paulo"},
        {"scheduled_at": "2026-11-30T12:00:00+00:00"},
    )
    assert data == {"scheduled_at": "2026-11-30T09:00:00-03:00", "timezone": "America/Sao_Paulo"}


async def test_trigger_output_accepts_a_datetime_fire_time() -> None:
    data = await fire(
        {"cron": "0 9 * * 1"}, {"scheduled_at": datetime(2026, 11, 30, 9, tzinfo=UTC)}
    )
    assert data == {"scheduled_at": "2026-11-30T09:00:00+00:00", "timezone": "UTC"}


async def test_trigger_output_without_a_fire_time_is_now() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    data = await fire({"cron": "* * * * *", "timezone": "Asia/Tokyo"})
    scheduled = datetime.fromisoformat(data["scheduled_at"])
    assert scheduled.utcoffset() == timedelta(hours=9)
    assert before <= scheduled <= datetime.now(UTC)
    assert data["timezone"] == "Asia/Tokyo"


async def test_trigger_with_a_bad_fire_time_is_a_step_error() -> None:
    with pytest.raises(StepError, match=r"^scheduled_at: 'yesterday' is not an ISO 8601"):
        await fire({"cron": "* * * * *"}, {"scheduled_at": "yesterday"})


# ------------------------------------------------------------------------------------- the app


def test_schedule_app_describes_its_cron_trigger() -> None:
    described = ScheduleApp().to_dict()
    assert (described["key"], described["name"]) == ("schedule", "Schedule")
    assert described["actions"] == []
    (trigger,) = described["triggers"]
    assert (trigger["key"], trigger["type"]) == ("cron", "schedule")
    assert CronTrigger.trigger_type is TriggerType.SCHEDULE
    assert list(trigger["arguments"]["properties"]) == ["cron", "timezone"]
    assert trigger["arguments"]["required"] == ["cron"]
    assert trigger["arguments"]["properties"]["timezone"]["default"] == "UTC"
