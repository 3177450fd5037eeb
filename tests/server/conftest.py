"""Fixtures for the server tests: a fresh, empty database per test on SQLite and PostgreSQL.

The PostgreSQL case creates its own database ``docg_server_test_<random>`` on the server at
``DOCG_TEST_DATABASE_URL`` and drops it afterwards, so it never meets other tests' tables.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from docg_server.db import create_db_engine, normalise_url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> URL:
    return normalise_url(f"sqlite:///{tmp_path / 'docg.db'}")


@pytest.fixture
def postgres_url() -> Iterator[URL]:
    base = os.environ.get("DOCG_TEST_DATABASE_URL")
    if not base:
        pytest.skip("DOCG_TEST_DATABASE_URL is not set")
    server = normalise_url(base)
    name = f"docg_server_test_{uuid.uuid4().hex[:12]}"
    admin = create_db_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield server.set(database=name)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> URL:
    """A fresh, empty database: SQLite, then PostgreSQL (``postgres`` marker)."""
    url: URL = request.getfixturevalue(f"{request.param}_url")
    return url
