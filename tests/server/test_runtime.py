"""The runtime picks its runner from the settings: inline by default, Temporal when
``TEMPORAL_ADDRESS`` is set (connecting on first use)."""

from __future__ import annotations

from pathlib import Path

from server.apikit import make_settings

from docg_core.runners.inline import InlineRunner
from docg_server import migrate
from docg_server.app import close_app, create_app


async def test_without_temporal_runs_are_inline_and_timers_tick(tmp_path: Path) -> None:
    app = create_app(make_settings(f"sqlite:///{tmp_path / 'docg.db'}"))
    try:
        assert isinstance(app.state.runtime.runner, InlineRunner)
        assert app.state.runtime.durable is False
    finally:
        await close_app(app)


async def test_with_temporal_runs_go_there_and_the_local_tick_resumes_no_waits(
    tmp_path: Path,
) -> None:
    from docg_core.runners.temporal import TemporalRunner

    url = f"sqlite:///{tmp_path / 'docg.db'}"
    migrate.upgrade(url)
    settings = make_settings(
        url,
        TEMPORAL_ADDRESS="127.0.0.1:1",
        TEMPORAL_TASK_QUEUE="q-test",
    )
    app = create_app(settings)
    try:
        runtime = app.state.runtime
        assert isinstance(runtime.runner, TemporalRunner)
        assert runtime.durable is True

        async def must_not_run(now: object = None) -> list[object]:
            raise AssertionError("resume_due must not run beside Temporal's timers")

        runtime.engine.resume_due = must_not_run
        assert await runtime.tick() == []
    finally:
        await close_app(app)
