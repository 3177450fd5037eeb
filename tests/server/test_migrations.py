"""The migrations are the schema: they must produce exactly what the models describe."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL

from docg_core.records import ExecutionRecord, utcnow
from docg_core.sqlstore import SQLStore
from docg_core.sqlstore import metadata as engine_metadata
from docg_server import migrate
from docg_server.db import create_db_engine
from docg_server.models import metadata

SERVER_TABLES = {
    "organizations",
    "users",
    "workflows",
    "workflow_nodes",
    "data_source_connections",
    "templates",
    "generated_documents",
    "ai_generation_mappings",
    "processed_events",
    "refresh_tokens",
    "login_attempts",
    "invitations",
    "oauth_states",
    "docg_executions",
    "docg_steps",
    "docg_dedupe_keys",
    "docg_datastore",
}


def schema_drift(url: URL) -> list[Any]:
    engine = create_db_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={
                    "compare_type": True,
                    "compare_server_default": True,
                    "include_object": migrate.include_object,
                },
            )
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def table_names(url: URL) -> set[str]:
    engine = create_db_engine(url, poolclass=sa.NullPool)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def current_revision(url: URL) -> str | None:
    engine = create_db_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head() -> str | None:
    return ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_current_head()


def test_the_models_cover_the_design_tables() -> None:
    assert set(metadata.tables) == SERVER_TABLES


def test_migrations_produce_exactly_the_models_schema(database_url: URL) -> None:
    migrate.upgrade(database_url)
    assert schema_drift(database_url) == []
    assert table_names(database_url) == SERVER_TABLES | {"alembic_version"}
    assert current_revision(database_url) == head()


def test_upgrade_downgrade_upgrade(database_url: URL) -> None:
    migrate.upgrade(database_url)
    migrate.downgrade(database_url, "base")
    assert table_names(database_url) == {"alembic_version"}
    assert current_revision(database_url) is None
    migrate.upgrade(database_url)
    assert schema_drift(database_url) == []


def test_migrations_adopt_engine_tables_that_already_hold_runs(database_url: URL) -> None:
    engine = create_db_engine(database_url, poolclass=sa.NullPool)
    try:
        engine_metadata.create_all(engine)
        with engine.begin() as connection:
            connection.execute(
                engine_metadata.tables["docg_datastore"].insert(),
                {"scope": "flow", "key": "k", "value": {"kept": True}, "updated_at": utcnow()},
            )
        migrate.upgrade(database_url)
        assert schema_drift(database_url) == []
        with engine.connect() as connection:
            rows = connection.execute(
                sa.select(engine_metadata.tables["docg_datastore"].c.value)
            ).all()
        assert [row.value for row in rows] == [{"kept": True}]
    finally:
        engine.dispose()


def test_the_engine_store_works_on_the_migrated_tables(database_url: URL) -> None:
    migrate.upgrade(database_url)

    async def round_trip() -> ExecutionRecord:
        async with SQLStore(database_url, create_tables=False) as store:
            await store.create_execution(ExecutionRecord(id="e-1", flow_name="f"))
            return await store.get_execution("e-1")

    assert asyncio.run(round_trip()).flow_name == "f"


def test_every_organization_id_is_indexed() -> None:
    for table in metadata.tables.values():
        if "organization_id" in table.c:
            assert any(
                [c.name for c in index.columns][:1] == ["organization_id"]
                for index in table.indexes
            ) or any(
                [c.name for c in constraint.columns][:1] == ["organization_id"]
                for constraint in table.constraints
                if isinstance(constraint, sa.UniqueConstraint)
            ), table.name


def test_every_constraint_and_index_is_named_by_the_convention() -> None:
    for table in metadata.tables.values():
        for item in [*table.constraints, *table.indexes]:
            assert item.name, f"{table.name}: unnamed {type(item).__name__}"
            assert item.name.startswith(("pk_", "fk_", "uq_", "ck_", "ix_")), item.name
            assert len(item.name) <= 63, item.name  # PostgreSQL's identifier limit


def test_a_new_revision_against_an_up_to_date_database_is_empty(
    sqlite_url: URL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scripts = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(migrate, "MIGRATIONS_DIR", scripts)
    engine = create_db_engine(sqlite_url, poolclass=sa.NullPool)
    try:
        engine_metadata.create_all(engine)  # the engine's tables must not be dropped
    finally:
        engine.dispose()
    migrate.upgrade(sqlite_url)

    previous = head()
    assert previous is not None

    path = migrate.revision(sqlite_url, "nothing to do")

    assert path.name == f"{int(previous) + 1:04d}_nothing_to_do.py"
    text = path.read_text()
    assert "op." not in text.split("def upgrade", 1)[1]
    assert f"down_revision: str | Sequence[str] | None = '{previous}'" in text


def test_the_drift_check_notices_a_column_the_models_lack(sqlite_url: URL) -> None:
    migrate.upgrade(sqlite_url)
    engine = create_db_engine(sqlite_url, poolclass=sa.NullPool)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("ALTER TABLE organizations ADD COLUMN extra INTEGER")
    finally:
        engine.dispose()
    assert [diff[0] for diff in schema_drift(sqlite_url)] == ["remove_column"]


def test_connections_made_before_credential_versions_start_at_version_one(
    database_url: URL,
) -> None:
    migrate.upgrade(database_url, "0004")
    engine = create_db_engine(database_url, poolclass=sa.NullPool)
    try:
        with engine.begin() as connection:
            org = uuid.uuid4()
            now = utcnow()
            connection.execute(
                sa.text(
                    "INSERT INTO organizations (id, name, plan, documents_used, period_start, "
                    "created_at, updated_at) VALUES (:id, 'Acme', 'free', 0, :now, :now, :now)"
                ),
                {"id": org.hex if database_url.get_backend_name() == "sqlite" else org, "now": now},
            )
            connection.execute(
                sa.text(
                    "INSERT INTO data_source_connections (id, organization_id, app_key, name, "
                    "credentials, scopes, status, created_at, updated_at) VALUES "
                    "(:id, :org, 'x', 'x', 'sealed', '[]', 'active', :now, :now)"
                ),
                {
                    "id": uuid.uuid4().hex
                    if database_url.get_backend_name() == "sqlite"
                    else uuid.uuid4(),
                    "org": org.hex if database_url.get_backend_name() == "sqlite" else org,
                    "now": now,
                },
            )
        migrate.upgrade(database_url)
        with engine.connect() as connection:
            versions = connection.execute(
                sa.text("SELECT credentials_version FROM data_source_connections")
            ).scalars()
            assert list(versions) == [1]
        assert schema_drift(database_url) == []
    finally:
        engine.dispose()
