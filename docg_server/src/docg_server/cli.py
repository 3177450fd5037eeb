"""``docg serve``, ``docg db upgrade|downgrade|revision`` and ``docg keys generate|rotate``,
added to the ``docg`` command line.

:func:`register` adds them to a Typer application; :mod:`docg_server.plugin` calls it from the
``docg_register_commands`` hook. The database URL comes from ``--database-url`` or
``DATABASE_URL`` (default ``sqlite:///./docg.db``), as for the server itself.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

__all__ = ["db_cli", "keys_cli", "register", "serve"]

DatabaseUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="DATABASE_URL",
        show_envvar=True,
        help="The server's database (default: sqlite:///./docg.db).",
    ),
]

db_cli = typer.Typer(
    name="db", help="Migrate the server's database (Alembic).", no_args_is_help=True
)


def _url(database_url: str | None) -> str:
    if database_url:
        return database_url
    from .config import get_settings

    return get_settings().DATABASE_URL


@db_cli.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    database_url: DatabaseUrlOpt = None,
) -> None:
    """Migrate the database up to REVISION (default: the latest)."""
    from . import migrate

    migrate.upgrade(_url(database_url), revision)
    typer.echo(f"database at {revision}")


@db_cli.command("downgrade")
def db_downgrade(
    revision: Annotated[
        str, typer.Argument(help="Target revision: an id, '-1' for one step, 'base' for empty.")
    ],
    database_url: DatabaseUrlOpt = None,
) -> None:
    """Migrate the database down to REVISION ('base' drops every server table)."""
    from . import migrate

    migrate.downgrade(_url(database_url), revision)
    typer.echo(f"database at {revision}")


@db_cli.command("revision")
def db_revision(
    message: Annotated[str, typer.Option("--message", "-m", help="What the change does.")],
    autogenerate: Annotated[
        bool,
        typer.Option(
            "--autogenerate/--empty",
            help="Compare the models with the database (which must be at head).",
        ),
    ] = True,
    database_url: DatabaseUrlOpt = None,
) -> None:
    """Write a new migration into the package's migrations; review it before committing."""
    from . import migrate

    path = migrate.revision(_url(database_url), message, autogenerate=autogenerate)
    typer.echo(f"wrote {path}")


keys_cli = typer.Typer(
    name="keys",
    help="Manage ENCRYPTION_KEY: generate a key, re-encrypt credentials after adding one.",
    no_args_is_help=True,
)


@keys_cli.command("generate")
def keys_generate(
    kid: Annotated[
        str, typer.Option("--kid", help="The key id, 1-32 letters, digits, '-' or '_'.")
    ] = "",
) -> None:
    """Print a new random AES-256 key as a 'kid:base64key' entry for ENCRYPTION_KEY."""
    from datetime import UTC, datetime

    from .crypto import KeyConfigError, generate_key

    try:
        typer.echo(generate_key(kid or datetime.now(UTC).strftime("k%Y%m%d%H%M%S")))
    except KeyConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@keys_cli.command("rotate")
def keys_rotate(
    database_url: DatabaseUrlOpt = None,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, help="Rows per transaction.")
    ] = 200,
) -> None:
    """Re-encrypt every connection's credentials with the first key of ENCRYPTION_KEY.

    Rows already under that key are skipped, so running it again is harmless. A row no
    configured key decrypts is reported by id and the exit code is 1; the others go on.
    """
    from .config import Settings, SettingsError
    from .db import create_db_engine, session_factory
    from .keys import RotationReport, rotate_credentials

    try:
        keyring = Settings().keyring()  # read now: a key added a moment ago counts
    except SettingsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None

    def progress(report: RotationReport) -> None:
        typer.echo(
            f"batch {report.batches}: {report.seen} rows so far — {report.rotated} rotated, "
            f"{report.skipped} skipped, {len(report.failed)} failed"
        )

    engine = create_db_engine(_url(database_url))
    try:
        typer.echo(f"re-encrypting credentials with key {keyring.primary_kid!r}")
        report = rotate_credentials(
            session_factory(engine), keyring, batch_size=batch_size, on_batch=progress
        )
    finally:
        engine.dispose()
    for failure in report.failed:
        typer.echo(f"connection {failure.connection_id}: {failure.reason}", err=True)
    typer.echo(
        f"done: {report.rotated} rotated, {report.skipped} skipped, "
        f"{len(report.failed)} failed (key {report.kid!r})"
    )
    if report.failed:
        raise typer.Exit(1)


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    reload: Annotated[bool, typer.Option(help="Restart when the code changes (development).")] = (
        False
    ),
    workers: Annotated[int, typer.Option(min=1, help="Worker processes (not with --reload).")] = 1,
) -> None:
    """Run the REST API with uvicorn; configuration comes from the environment.

    Logs go to stderr as ``DOCG_LOG_FORMAT`` (json or text) at ``DOCG_LOG_LEVEL``, uvicorn's
    included; the access log is the server's own (request ids, no query strings). With
    ``--workers N`` each worker process listens on its own ``SO_REUSEPORT`` socket, so the
    kernel spreads connections evenly between them; a worker that dies is replaced.
    """
    import uvicorn

    from docg_core.sqlstore import POSTGRES_POOL_SIZE

    from .config import SettingsError, get_settings
    from .logging import logging_config
    from .serving import (
        connection_budget_warning,
        http_protocol,
        reuse_port_supported,
        run_workers,
    )

    try:
        settings = get_settings()  # fail here, with the variable named, not in every worker
    except SettingsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    options: dict[str, Any] = {
        "app": "docg_server.serving:served_app",
        "factory": True,
        "host": host,
        "port": port,
        "proxy_headers": True,
        "http": http_protocol(),  # TCP_NODELAY on every connection (see docg_server.serving)
        # uvicorn installs it in this process and in each worker (a dict, so it pickles).
        "log_config": logging_config(settings.DOCG_LOG_FORMAT, settings.DOCG_LOG_LEVEL),
        "log_level": settings.DOCG_LOG_LEVEL.lower(),
        "access_log": False,
    }
    per_worker = settings.DATABASE_POOL_SIZE + settings.DATABASE_MAX_OVERFLOW + POSTGRES_POOL_SIZE
    warning = connection_budget_warning(settings.DATABASE_URL, per_worker, workers)
    if warning is not None:
        typer.echo(f"warning: {warning}", err=True)
    if workers > 1 and not reload and reuse_port_supported():
        raise typer.Exit(run_workers(options, workers))
    uvicorn.run(**options, reload=reload, workers=None if reload else workers)


def register(cli: typer.Typer) -> None:
    """Add ``serve`` and ``db`` to the ``docg`` application ``cli``."""
    cli.command("serve")(serve)
    cli.add_typer(db_cli)
    cli.add_typer(keys_cli)
