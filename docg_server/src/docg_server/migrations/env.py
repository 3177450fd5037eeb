"""Alembic environment: the server's models' metadata on the URL given by docg_server.migrate.

The URL comes from ``config.attributes["url"]`` (set by :mod:`docg_server.migrate`), else the
``sqlalchemy.url`` option, else ``DATABASE_URL``.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import context

from docg_server.db import create_db_engine
from docg_server.migrate import include_object, render_item
from docg_server.models import metadata

config = context.config


def _url() -> Any:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        from docg_server.config import get_settings

        url = get_settings().DATABASE_URL
    return url


def _configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=metadata,
        include_object=include_object,
        render_item=render_item,
        compare_type=True,
        compare_server_default=True,
        render_as_batch=True,  # SQLite alters tables by copying them
        **kwargs,
    )


def run_migrations_offline() -> None:
    _configure(url=str(_url()), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _foreign_keys_off(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys = OFF")
    finally:
        cursor.close()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_db_engine(_url())
    if engine.dialect.name == "sqlite":
        # SQLite alters a table by copying it and dropping the original; with foreign keys
        # enforced, dropping ``organizations`` would cascade-delete every tenant's rows.
        sa.event.listen(engine, "connect", _foreign_keys_off)
    try:
        with engine.connect() as connection:
            _configure(connection=connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
