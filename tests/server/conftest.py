"""Fixtures for the server tests: a fresh, empty database per test on SQLite and PostgreSQL,
and for the HTTP API an application on it migrated to head (helpers in ``apikit.py``).

The PostgreSQL case creates its own database ``docg_server_test_<random>`` on the server at
``DOCG_TEST_DATABASE_URL`` and drops it afterwards, so it never meets other tests' tables.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from fastapi import FastAPI
from server.apikit import Api, client_for, make_settings
from sqlalchemy.engine import URL
from support.requirements import missing

from docg_server import migrate, security
from docg_server.app import close_app, create_app
from docg_server.config import Settings
from docg_server.db import create_db_engine, normalise_url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> URL:
    return normalise_url(f"sqlite:///{tmp_path / 'docg.db'}")


@pytest.fixture
def postgres_url() -> Iterator[URL]:
    base = os.environ.get("DOCG_TEST_DATABASE_URL")
    if not base:
        missing("DOCG_TEST_DATABASE_URL is not set")
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


# -- the HTTP API --------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id with tiny parameters: the production ones cost ~150 ms per hash."""
    monkeypatch.setattr(
        security, "_hasher", PasswordHasher(time_cost=1, memory_cost=256, parallelism=1)
    )


@pytest.fixture(scope="session")
def postgres_api_url() -> Iterator[URL]:
    """One PostgreSQL database at head for the whole session; API tests empty it first."""
    base = os.environ.get("DOCG_TEST_DATABASE_URL")
    if not base:
        missing("DOCG_TEST_DATABASE_URL is not set")
    server = normalise_url(base)
    name = f"docg_server_api_{uuid.uuid4().hex[:12]}"
    admin = create_db_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = server.set(database=name)
        migrate.upgrade(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _empty_server_tables(url: URL) -> None:
    from docg_server.models import metadata

    engine = create_db_engine(url, poolclass=sa.NullPool)
    try:
        with engine.begin() as connection:
            names = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
            connection.exec_driver_sql(f"TRUNCATE {names} CASCADE")
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest) -> Settings:
    """Settings for an empty database at head: a new SQLite file, or the session's
    PostgreSQL database emptied (creating and migrating one per test costs ~0.5 s)."""
    if request.param == "sqlite":
        url: URL = request.getfixturevalue("sqlite_url")
        migrate.upgrade(url)
    else:
        url = request.getfixturevalue("postgres_api_url")
        _empty_server_tables(url)
    return make_settings(url)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    try:
        yield application
    finally:
        await close_app(application)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as http:
        yield http


@pytest.fixture
def api(client: httpx.AsyncClient) -> Api:
    return Api(client)
