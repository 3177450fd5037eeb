"""``docg keys rotate`` and ``docg keys generate``: credentials re-encrypted under the newest
key, in batches, idempotently; undecryptable rows reported without stopping the rest."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

import docg_server.plugin
from docg_core.cli import create_app as create_cli
from docg_server.config import Settings
from docg_server.crypto import KeyRing, generate_key
from docg_server.db import create_db_engine, session_factory
from docg_server.models import DataSourceConnection, Organization

OLD = generate_key("old")
NEW = generate_key("new")
LOST = generate_key("lost")  # never configured: its rows cannot be decrypted
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


def docg(*args: str) -> Any:
    cli = create_cli(extra_plugins=[docg_server.plugin])
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def url(settings: Settings) -> str:
    return settings.DATABASE_URL


@pytest.fixture
def factory(url: str) -> Iterator[sessionmaker[Session]]:
    engine = create_db_engine(url, poolclass=sa.NullPool)
    try:
        yield session_factory(engine)
    finally:
        engine.dispose()


def add_connections(
    factory: sessionmaker[Session], spec: str, count: int, *, name: str = "c"
) -> list[uuid.UUID]:
    """``count`` connections whose credentials are encrypted with the keys of ``spec``."""
    keys = KeyRing.parse(spec)
    ids = []
    with factory() as session:
        org = session.scalar(sa.select(Organization))
        if org is None:
            org = Organization(name="Acme")
            session.add(org)
            session.flush()
        for i in range(count):
            connection_id = uuid.uuid4()
            session.add(
                DataSourceConnection(
                    id=connection_id,
                    organization_id=org.id,
                    app_key="vendor",
                    name=f"{name}{i}",
                    credentials=keys.encrypt_json({"api_key": f"sk-{i}"}, str(connection_id)),
                    updated_at=LONG_AGO,
                )
            )
            ids.append(connection_id)
        session.commit()
    return ids


def rows(factory: sessionmaker[Session]) -> dict[uuid.UUID, DataSourceConnection]:
    with factory() as session:
        return {c.id: c for c in session.scalars(sa.select(DataSourceConnection))}


def test_rotate_re_encrypts_every_row_with_the_newest_key_in_batches(
    url: str, factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = add_connections(factory, OLD, 5)
    monkeypatch.setenv("ENCRYPTION_KEY", f"{NEW},{OLD}")

    result = docg("keys", "rotate", "--database-url", url, "--batch-size", "2")

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "re-encrypting credentials with key 'new'"
    assert lines[1:4] == [
        "batch 1: 2 rows so far — 2 rotated, 0 skipped, 0 failed",
        "batch 2: 4 rows so far — 4 rotated, 0 skipped, 0 failed",
        "batch 3: 5 rows so far — 5 rotated, 0 skipped, 0 failed",
    ]
    assert lines[-1] == "done: 5 rotated, 0 skipped, 0 failed (key 'new')"
    newest_only = KeyRing.parse(NEW)
    stored = rows(factory)
    for i, connection_id in enumerate(ids):
        row = stored[connection_id]
        assert row.credentials.startswith("v1.new.")
        assert newest_only.decrypt_json(row.credentials, str(connection_id)) == {
            "api_key": f"sk-{i}"
        }
        assert row.updated_at == LONG_AGO  # rotating keys changes no connection
        assert row.credentials_version == 1
    assert "sk-" not in result.output


def test_rotate_twice_skips_what_the_first_run_rotated(
    url: str, factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    add_connections(factory, OLD, 2, name="old")
    add_connections(factory, NEW, 1, name="new")
    monkeypatch.setenv("ENCRYPTION_KEY", f"{NEW},{OLD}")

    first = docg("keys", "rotate", "--database-url", url)
    tokens = {i: c.credentials for i, c in rows(factory).items()}
    second = docg("keys", "rotate", "--database-url", url)

    assert first.output.splitlines()[-1] == "done: 2 rotated, 1 skipped, 0 failed (key 'new')"
    assert second.exit_code == 0
    assert second.output.splitlines()[-1] == "done: 0 rotated, 3 skipped, 0 failed (key 'new')"
    assert {i: c.credentials for i, c in rows(factory).items()} == tokens


def test_a_row_no_key_opens_is_reported_and_the_rest_still_rotate(
    url: str, factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    good = add_connections(factory, OLD, 3, name="good")
    [lost] = add_connections(factory, LOST, 1, name="lost")
    lost_token = rows(factory)[lost].credentials
    monkeypatch.setenv("ENCRYPTION_KEY", f"{NEW},{OLD}")

    result = docg("keys", "rotate", "--database-url", url, "--batch-size", "1")

    assert result.exit_code == 1
    assert f"connection {lost}: the token was encrypted with key id 'lost'" in result.output
    assert result.output.splitlines()[-1] == "done: 3 rotated, 0 skipped, 1 failed (key 'new')"
    stored = rows(factory)
    assert all(stored[i].credentials.startswith("v1.new.") for i in good)
    assert stored[lost].credentials == lost_token


def test_a_malformed_encryption_key_stops_before_touching_the_database(
    url: str, factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    [connection_id] = add_connections(factory, OLD, 1)
    token = rows(factory)[connection_id].credentials
    monkeypatch.setenv("ENCRYPTION_KEY", "new:not-base64!")
    result = docg("keys", "rotate", "--database-url", url)
    assert result.exit_code == 2
    assert "ENCRYPTION_KEY entry 1" in result.output
    assert rows(factory)[connection_id].credentials == token


def test_generate_prints_a_key_encryption_key_accepts() -> None:
    result = docg("keys", "generate", "--kid", "k2026")
    assert result.exit_code == 0
    entry = result.output.strip()
    assert entry.startswith("k2026:")
    keyring = KeyRing.parse(entry)
    assert keyring.primary_kid == "k2026"
    assert keyring.decrypt(keyring.encrypt(b"x", "row"), "row") == b"x"
    assert docg("keys", "generate", "--kid", "k2026").output != result.output


def test_generate_without_a_kid_names_the_key_by_its_date_and_refuses_a_bad_kid() -> None:
    result = docg("keys", "generate")
    assert result.exit_code == 0
    assert KeyRing.parse(result.output.strip()).primary_kid.startswith("k20")
    bad = docg("keys", "generate", "--kid", "no spaces")
    assert bad.exit_code == 2
    assert "key id 'no spaces' is invalid" in bad.output
