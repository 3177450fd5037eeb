"""Refreshing OAuth tokens in DatabaseConnections: before expiry and after a 401, one refresh
per connection however many callers (several engines standing in for processes), rotated
refresh tokens kept, invalid_grant → the connection is ``expired``. Connections are made
through the HTTP OAuth flow against the fake authorization server, on both databases."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fakes.oauth_server import CLIENT_ID, CLIENT_SECRET, FakeAuthorizationServer
from fastapi import FastAPI
from pydantic import SecretStr
from server.apikit import Api, bearer
from server.test_oauth import connect

from docg_core.errors import RetryableError, StepError
from docg_server.config import Settings
from docg_server.connections import DatabaseConnections, open_credentials
from docg_server.db import create_db_engine, session_factory
from docg_server.models import DataSourceConnection
from docg_server.oauth import TokenRefresher


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"GOOGLE_CLIENT_ID": CLIENT_ID, "GOOGLE_CLIENT_SECRET": SecretStr(CLIENT_SECRET)}
    )


@pytest.fixture
def fake(app: FastAPI) -> FakeAuthorizationServer:
    # Tokens live 60 s: within the 5-minute margin, so the first use refreshes.
    server = FakeAuthorizationServer(access_token_ttl=60)
    app.state.http_transport = server.transport()
    return server


class Connected:
    """A Google connection made through the HTTP flow, and ways to read it."""

    def __init__(self, app: FastAPI, org_id: str, connection: dict[str, Any]) -> None:
        self.app = app
        self.org_id = org_id
        self.id = connection["id"]
        self.name = connection["name"]

    def row(self) -> tuple[int, str, dict[str, Any]]:
        with self.app.state.session_factory() as session:
            row = session.get(DataSourceConnection, uuid.UUID(self.id))
            assert row is not None
            keyring = self.app.state.settings.keyring()
            return (
                row.credentials_version,
                row.status,
                open_credentials(keyring, row.id, row.credentials),
            )


@pytest.fixture
async def connected(
    app: FastAPI, api: Api, client: httpx.AsyncClient, fake: FakeAuthorizationServer
) -> Connected:
    registered = await api.register()
    headers = bearer((await api.login())["access_token"])
    response = await connect(client, fake, headers)
    assert response.status_code == 201, response.text
    fake.access_token_ttl = 3600  # refreshed tokens are good for an hour
    return Connected(app, registered["organization"]["id"], response.json())


@pytest.fixture
async def providers(
    app: FastAPI, fake: FakeAuthorizationServer
) -> AsyncIterator[Callable[..., DatabaseConnections]]:
    """Connection providers, each on its own database engine (as another process would be)."""
    engines: list[sa.Engine] = []

    def make(**options: Any) -> DatabaseConnections:
        engine = create_db_engine(app.state.settings.DATABASE_URL)
        engines.append(engine)
        factory = session_factory(engine)
        keyring = app.state.settings.keyring()
        options.setdefault("poll_seconds", 0.01)
        refresher = TokenRefresher(
            factory,
            keyring,
            settings=app.state.settings,
            transport=fake.transport(),
            **options,
        )
        return DatabaseConnections(factory, keyring, refresher=refresher)

    yield make
    for engine in engines:
        engine.dispose()


async def credentials(provider: DatabaseConnections, connected: Connected) -> Any:
    return await provider.get_credentials(
        connected.name, app_key="google", organization_id=connected.org_id
    )


async def test_concurrent_callers_refresh_once_and_all_get_the_new_token(
    connected: Connected,
    fake: FakeAuthorizationServer,
    providers: Callable[..., DatabaseConnections],
) -> None:
    version, _status, before = connected.row()
    fake.refresh_delay = 0.3  # the first refresh is slow: everyone else arrives meanwhile
    processes = [providers() for _ in range(3)]
    got = await asyncio.gather(*(credentials(processes[i % 3], connected) for i in range(12)))
    assert fake.refresh_count == 1
    new = fake.issued_access_tokens[-1]
    assert new != before["access_token"]
    assert {c["access_token"] for c in got} == {new}
    after_version, status, stored = connected.row()
    assert stored["access_token"] == new and status == "active"
    assert stored["refresh_token"] == before["refresh_token"]  # not rotated: kept
    assert stored["expires_at"] > time.time() + 3000
    assert after_version == version + 2  # one claim, one write


async def test_a_token_far_from_expiry_is_used_as_it_is(
    connected: Connected,
    fake: FakeAuthorizationServer,
    providers: Callable[..., DatabaseConnections],
) -> None:
    provider = providers()
    first = await credentials(provider, connected)  # refreshes the 60-second token
    second = await credentials(provider, connected)
    assert fake.refresh_count == 1
    assert second["access_token"] == first["access_token"]


async def test_rotated_refresh_tokens_are_kept_and_used_next_time(
    connected: Connected,
    fake: FakeAuthorizationServer,
    providers: Callable[..., DatabaseConnections],
) -> None:
    fake.rotate_refresh_tokens = True
    fake.access_token_ttl = 60  # each new token also expires soon
    _version, _status, original = connected.row()
    provider = providers()
    first = await credentials(provider, connected)
    assert first["refresh_token"] != original["refresh_token"]
    assert original["refresh_token"] not in fake.refresh_tokens  # the used one is revoked
    assert connected.row()[2]["refresh_token"] == first["refresh_token"]
    second = await credentials(provider, connected)  # works only with the rotated token
    assert fake.refresh_count == 2
    assert second["access_token"] == fake.issued_access_tokens[-1]
    assert fake.requests[-1]["refresh_token"] == first["refresh_token"]


async def test_invalid_grant_marks_the_connection_expired_with_a_clear_error(
    connected: Connected,
    client: httpx.AsyncClient,
    api: Api,
    fake: FakeAuthorizationServer,
    providers: Callable[..., DatabaseConnections],
) -> None:
    fake.revoke_all()
    provider = providers()
    with pytest.raises(StepError) as raised:
        await credentials(provider, connected)
    assert raised.value.code == "connection_expired"
    assert "connect it again" in str(raised.value) and "google-oauth/authorize" in str(raised.value)
    assert not isinstance(raised.value, RetryableError)
    headers = bearer((await api.login())["access_token"])
    shown = await client.get(f"/api/v1/connections/{connected.id}", headers=headers)
    assert shown.json()["status"] == "expired"
    with pytest.raises(StepError, match="no longer authorised"):
        await credentials(provider, connected)
    assert fake.refresh_count == 1  # an expired connection is not tried again


async def test_a_401_refreshes_once_and_a_token_already_replaced_is_not_refreshed_again(
    connected: Connected,
    fake: FakeAuthorizationServer,
    providers: Callable[..., DatabaseConnections],
) -> None:
    provider = providers()
    current = await credentials(provider, connected)
    assert fake.refresh_count == 1
    rejected = current["access_token"]

    async def after_401() -> Any:
        return await provider.refresh_rejected(
            connected.name,
            app_key="google",
            organization_id=connected.org_id,
            access_token=rejected,
        )

    got = await asyncio.gather(after_401(), after_401(), after_401())
    assert fake.refresh_count == 2
    assert {c["access_token"] for c in got} == {fake.issued_access_tokens[-1]}
    assert rejected not in {c["access_token"] for c in got}
    again = await after_401()  # the rejected token is no longer the stored one
    assert again["access_token"] == fake.issued_access_tokens[-1]
    assert fake.refresh_count == 2


async def test_an_unreachable_provider_leaves_a_still_valid_token_in_use(
    connected: Connected,
    fake: FakeAuthorizationServer,
    providers: Callable[..., DatabaseConnections],
) -> None:
    _version, _status, before = connected.row()
    fake.fail_next(503)
    provider = providers()
    got = await credentials(provider, connected)
    assert got["access_token"] == before["access_token"]  # still valid for a minute
    assert connected.row()[1] == "active"
    refreshed = await credentials(provider, connected)  # the claim was released
    assert refreshed["access_token"] == fake.issued_access_tokens[-1]
    assert fake.refresh_count == 1


async def test_an_unreachable_provider_with_an_expired_token_is_retryable(
    connected: Connected,
    fake: FakeAuthorizationServer,
    providers: Callable[..., DatabaseConnections],
) -> None:
    fake.fail_next(503)
    provider = providers(clock=lambda: time.time() + 120)  # the 60-second token has expired
    with pytest.raises(RetryableError) as raised:
        await credentials(provider, connected)
    assert raised.value.code == "connection_refresh_unavailable"
    assert connected.row()[1] == "active"


async def test_a_claim_whose_process_died_is_taken_over(
    app: FastAPI,
    connected: Connected,
    fake: FakeAuthorizationServer,
    providers: Callable[..., DatabaseConnections],
) -> None:
    with app.state.session_factory() as session:  # a claim nobody will finish
        session.execute(
            sa.update(DataSourceConnection).values(
                credentials_version=-(DataSourceConnection.credentials_version + 1)
            )
        )
        session.commit()
    provider = providers(wait_seconds=0.3)
    started = time.monotonic()
    got = await credentials(provider, connected)
    assert time.monotonic() - started >= 0.3
    assert got["access_token"] == fake.issued_access_tokens[-1]
    assert fake.refresh_count == 1


async def test_other_apps_credentials_are_never_refreshed(
    app: FastAPI,
    connected: Connected,
    fake: FakeAuthorizationServer,
    providers: Callable[..., DatabaseConnections],
) -> None:
    from docg_server.connections import seal_credentials

    keyring = app.state.settings.keyring()
    with app.state.session_factory() as session:
        row = DataSourceConnection(
            id=uuid.uuid4(),
            organization_id=uuid.UUID(connected.org_id),
            app_key="vendor",
            name="vendor-main",
            credentials="",
        )
        row.credentials = seal_credentials(
            keyring, row.id, {"access_token": "a", "refresh_token": "r", "expires_at": 1}
        )
        session.add(row)
        session.commit()
    got = await providers().get_credentials(
        "vendor-main", app_key="vendor", organization_id=connected.org_id
    )
    assert got["access_token"] == "a"
    assert fake.requests[-1]["grant_type"] == "authorization_code"  # only the flow's exchange
