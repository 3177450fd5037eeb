"""``docg serve`` and ``docg db ...``, added to the docg CLI by the server's plugin hook."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

import docg_server.plugin
from docg_core.cli import create_app as create_cli
from docg_server.db import create_db_engine

runner = CliRunner()


def docg(*args: str) -> Any:
    cli = create_cli(extra_plugins=[docg_server.plugin])
    return runner.invoke(cli, list(args), catch_exceptions=False)


def tables(url: str) -> set[str]:
    engine = create_db_engine(url, poolclass=sa.NullPool)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_the_server_plugin_is_declared_in_the_docg_apps_entry_point_group() -> None:
    [entry] = [ep for ep in metadata.entry_points(group="docg.apps") if ep.name == "server"]
    assert entry.value == "docg_server.plugin"
    assert entry.load() is docg_server.plugin


def test_db_upgrade_and_downgrade_migrate_the_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'docg.db'}"
    result = docg("db", "upgrade", "--database-url", url)
    assert result.exit_code == 0, result.output
    assert {"organizations", "users", "refresh_tokens"} <= tables(url)

    result = docg("db", "downgrade", "base", "--database-url", url)
    assert result.exit_code == 0, result.output
    assert tables(url) == {"alembic_version"}


def test_db_upgrade_reads_database_url_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'env.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    assert docg("db", "upgrade").exit_code == 0
    assert "users" in tables(url)


def test_serve_runs_the_app_factory_with_uvicorn(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **kwargs: calls.append((app, kwargs)))
    monkeypatch.delenv("DOCG_ENV", raising=False)

    result = docg("serve", "--host", "0.0.0.0", "--port", "9000", "--reload")

    assert result.exit_code == 0, result.output
    [(target, options)] = calls
    assert target == "docg_server.serving:served_app"
    assert options["factory"] is True
    assert options["http"].startswith("docg_server.serving:NoDelay")
    assert (options["host"], options["port"], options["reload"]) == ("0.0.0.0", 9000, True)


def test_serve_with_workers_supervises_a_listener_per_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[dict[str, Any], int]] = []
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: pytest.fail("one shared listener"))
    monkeypatch.setattr(
        "docg_server.serving.run_workers", lambda options, n: calls.append((options, n)) or 0
    )
    monkeypatch.delenv("DOCG_ENV", raising=False)

    result = docg("serve", "--port", "9000", "--workers", "3")

    assert result.exit_code == 0, result.output
    [(options, workers)] = calls
    assert workers == 3
    assert (options["app"], options["port"]) == ("docg_server.serving:served_app", 9000)


def test_serve_refuses_to_start_with_an_invalid_configuration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from docg_server.config import get_settings

    monkeypatch.setattr("uvicorn.run", lambda *a, **k: pytest.fail("must not start"))
    monkeypatch.setenv("DOCG_ENV", "production")
    monkeypatch.delenv("JWT_SECRET", raising=False)
    get_settings.cache_clear()
    try:
        result = docg("serve")
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "JWT_SECRET" in result.output
