"""Engines and sessions for the server's database (SQLite by default, PostgreSQL in production).

The schema is created only by the Alembic migrations (:mod:`docg_server.migrate`), never by
``metadata.create_all``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["create_db_engine", "normalise_url", "session_factory", "session_scope"]

SQLITE_BUSY_TIMEOUT_MS = 10_000


def normalise_url(url: str | URL) -> URL:
    """``postgresql://`` and ``postgres://`` mean psycopg 3 (the driver we ship with)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def create_db_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite gets foreign keys enforced and a busy timeout."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            # One shared in-memory database per thread: no queue pool to size.
            for option in ("pool_size", "max_overflow", "pool_timeout"):
                kwargs.pop(option, None)
        engine = sa.create_engine(parsed, **kwargs)
        sa.event.listen(engine, "connect", _configure_sqlite)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return sa.create_engine(parsed, **kwargs)


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (API responses read them)."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back if it raises."""
    with factory() as session, session.begin():
        yield session
