"""OAuth 2.0 + PKCE connections through HTTP: /authorize stores the state (hashed) and the
verifier (encrypted) and redirects; /callback checks the state (unknown, used, expired,
another user's), exchanges the code with the verifier at a fake authorization server and
stores the tokens encrypted as a connection with the granted scopes."""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sqlalchemy as sa
from fakes.oauth_server import CLIENT_ID, CLIENT_SECRET, FakeAuthorizationServer, s256
from fastapi import FastAPI
from pydantic import SecretStr
from server.apikit import Api, assert_problem, bearer, use_plugins
from server.test_organizations import add_user

from docg_server.config import Settings
from docg_server.connections import open_credentials
from docg_server.models import DataSourceConnection, OAuthState, Role
from docg_server.models.base import utcnow

GOOGLE = "/api/v1/google-oauth"
MICROSOFT = "/api/v1/microsoft/oauth"
HUBSPOT = "/api/v1/hubspot-oauth"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The conftest's settings (both databases) with an OAuth client for every provider."""
    return settings.model_copy(
        update={
            "GOOGLE_CLIENT_ID": CLIENT_ID,
            "GOOGLE_CLIENT_SECRET": SecretStr(CLIENT_SECRET),
            "MICROSOFT_CLIENT_ID": CLIENT_ID,
            "MICROSOFT_CLIENT_SECRET": SecretStr(CLIENT_SECRET),
            "MICROSOFT_TENANT": "contoso.onmicrosoft.com",
            "HUBSPOT_CLIENT_ID": CLIENT_ID,
            "HUBSPOT_CLIENT_SECRET": SecretStr(CLIENT_SECRET),
        }
    )


@pytest.fixture
def fake(app: FastAPI) -> FakeAuthorizationServer:
    server = FakeAuthorizationServer()
    app.state.http_transport = server.transport()
    return server


@pytest.fixture
async def owner(api: Api) -> dict[str, str]:
    tokens = await api.signed_in()
    return bearer(tokens["access_token"])


def query(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}


async def begin(
    client: httpx.AsyncClient, headers: dict[str, str], base: str = GOOGLE, **params: str
) -> str:
    params.setdefault("connection_name", "google-main")
    response = await client.get(
        f"{base}/authorize", params={**params, "mode": "json"}, headers=headers
    )
    assert response.status_code == 200, response.text
    url: str = response.json()["authorize_url"]
    return url


async def connect(
    client: httpx.AsyncClient,
    fake: FakeAuthorizationServer,
    headers: dict[str, str],
    base: str = GOOGLE,
    **params: str,
) -> httpx.Response:
    """The whole dance: authorize, consent at the fake, come back without a bearer token."""
    url = await begin(client, headers, base, **params)
    code = fake.approve(url)
    return await client.get(f"{base}/callback", params={"code": code, "state": query(url)["state"]})


def stored(app: FastAPI, connection_id: str) -> tuple[DataSourceConnection, dict[str, Any]]:
    with app.state.session_factory() as session:
        row = session.get(DataSourceConnection, uuid.UUID(connection_id))
        assert row is not None
        session.expunge(row)
    return row, open_credentials(app.state.settings.keyring(), row.id, row.credentials)


# -- /authorize ------------------------------------------------------------------------------


async def test_authorize_redirects_to_google_with_state_and_an_s256_challenge(
    app: FastAPI, client: httpx.AsyncClient, owner: dict[str, str]
) -> None:
    response = await client.get(
        f"{GOOGLE}/authorize", params={"connection_name": "google-main"}, headers=owner
    )
    assert response.status_code == 307
    location = response.headers["location"]
    assert location.startswith("https://accounts.google.com/o/oauth2/v2/auth?")
    params = query(location)
    assert params["client_id"] == CLIENT_ID
    assert params["response_type"] == "code"
    assert params["redirect_uri"] == f"http://testserver{GOOGLE}/callback"
    assert params["access_type"] == "offline" and params["prompt"] == "consent"
    assert params["code_challenge_method"] == "S256"
    assert params["scope"].split() == [
        "openid",
        "email",
        "https://www.googleapis.com/auth/drive.file",
    ]
    assert len(params["state"]) >= 43
    with app.state.session_factory() as session:
        row = session.scalars(sa.select(OAuthState)).one()
        # Only the hash of the state is kept; the verifier is encrypted and matches the challenge.
        assert row.state_hash == hashlib.sha256(params["state"].encode()).hexdigest()
        assert params["state"] not in row.code_verifier
        verifier = app.state.settings.keyring().decrypt_json(row.code_verifier, str(row.id))
        assert s256(verifier) == params["code_challenge"]
        assert verifier not in row.code_verifier
        assert row.connection_name == "google-main"
        assert row.provider == "google"
        assert row.used_at is None
        assert timedelta(minutes=9) < row.expires_at - utcnow() <= timedelta(minutes=10)


async def test_authorize_answers_json_for_single_page_apps(
    client: httpx.AsyncClient, owner: dict[str, str]
) -> None:
    response = await client.get(
        f"{GOOGLE}/authorize",
        params={"connection_name": "g", "mode": "json", "scopes": "openid, email"},
        headers=owner,
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"authorize_url", "expires_at"}
    assert query(body["authorize_url"])["scope"] == "openid email"


async def test_microsoft_asks_for_offline_access_in_the_configured_tenant(
    client: httpx.AsyncClient, owner: dict[str, str]
) -> None:
    url = await begin(client, owner, MICROSOFT, scopes="User.Read")
    assert url.startswith(
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize?"
    )
    params = query(url)
    assert params["scope"].split() == ["User.Read", "offline_access"]
    assert params["response_mode"] == "query"
    assert params["redirect_uri"] == f"http://testserver{MICROSOFT}/callback"


async def test_only_owners_and_admins_begin_and_a_token_is_needed(
    app: FastAPI, api: Api, client: httpx.AsyncClient
) -> None:
    registered = await api.register()
    add_user(app, registered["organization"]["id"], "mo@example.com", Role.MEMBER)
    member = await api.login("mo@example.com")
    params = {"connection_name": "g"}
    assert_problem(
        await client.get(
            f"{GOOGLE}/authorize", params=params, headers=bearer(member["access_token"])
        ),
        403,
        "forbidden",
    )
    assert_problem(await client.get(f"{GOOGLE}/authorize", params=params), 401, "unauthorized")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"connection_name": "   "}, "connection_name"),
        ({}, "connection_name"),
        ({"connection_name": "g", "scopes": 'openid "quoted"'}, "scopes"),
        ({"connection_name": "g", "mode": "popup"}, "mode"),
    ],
)
async def test_bad_authorize_parameters_are_validation_errors(
    client: httpx.AsyncClient, owner: dict[str, str], params: dict[str, str], field: str
) -> None:
    response = await client.get(f"{GOOGLE}/authorize", params=params, headers=owner)
    body = assert_problem(response, 422, "validation-error")
    assert [e["field"] for e in body["errors"]] == [field]


async def test_an_unconfigured_provider_says_which_settings_are_missing(
    app: FastAPI, client: httpx.AsyncClient, owner: dict[str, str]
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"HUBSPOT_CLIENT_SECRET": None})
    response = await client.get(
        f"{HUBSPOT}/authorize", params={"connection_name": "h"}, headers=owner
    )
    body = assert_problem(response, 503, "oauth-not-configured")
    assert "HUBSPOT_CLIENT_ID and HUBSPOT_CLIENT_SECRET" in body["detail"]


async def test_a_name_held_by_another_apps_connection_is_refused(
    app: FastAPI, api: Api, client: httpx.AsyncClient
) -> None:
    registered = await api.register()
    headers = bearer((await api.login())["access_token"])
    with app.state.session_factory() as session:
        session.add(
            DataSourceConnection(
                organization_id=uuid.UUID(registered["organization"]["id"]),
                app_key="zapsign",
                name="main",
                credentials="v1.x.y",
            )
        )
        session.commit()
    response = await client.get(
        f"{GOOGLE}/authorize", params={"connection_name": "main"}, headers=headers
    )
    assert_problem(response, 409, "connection-name-taken")


# -- /callback -------------------------------------------------------------------------------


async def test_the_callback_stores_the_tokens_encrypted_without_a_bearer_token(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeAuthorizationServer, owner: dict[str, str]
) -> None:
    response = await connect(client, fake, owner)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["app_key"] == "google" and body["name"] == "google-main"
    assert body["status"] == "active" and body["created"] is True
    assert body["scopes"] == ["openid", "email", "https://www.googleapis.com/auth/drive.file"]
    access = fake.issued_access_tokens[-1]
    refresh = next(iter(fake.refresh_tokens))
    assert access not in response.text and refresh not in response.text
    # The fake checked the verifier against the challenge before issuing these.
    assert fake.requests[-1]["code_verifier"]
    row, credentials = stored(app, body["id"])
    assert access not in row.credentials and refresh not in row.credentials
    assert credentials["access_token"] == access
    assert credentials["refresh_token"] == refresh
    assert credentials["client_id"] == CLIENT_ID
    assert abs(credentials["expires_at"] - (utcnow().timestamp() + 3600)) < 60
    assert row.expires_at is not None and row.status == "active"
    listed = await client.get(f"/api/v1/connections/{body['id']}", headers=owner)
    assert listed.json()["scopes"] == body["scopes"]
    assert "access_token" in listed.json()["credential_fields"]


async def test_the_granted_scopes_are_recorded_not_the_requested_ones(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeAuthorizationServer, owner: dict[str, str]
) -> None:
    url = await begin(client, owner)
    code = fake.approve(url, grant=["openid", "email"])
    response = await client.get(
        f"{GOOGLE}/callback", params={"code": code, "state": query(url)["state"]}
    )
    assert response.status_code == 201
    assert response.json()["scopes"] == ["openid", "email"]
    assert stored(app, response.json()["id"])[1]["scope"] == "openid email"


async def test_a_used_state_is_refused(
    client: httpx.AsyncClient, fake: FakeAuthorizationServer, owner: dict[str, str]
) -> None:
    url = await begin(client, owner)
    params = {"code": fake.approve(url), "state": query(url)["state"]}
    assert (await client.get(f"{GOOGLE}/callback", params=params)).status_code == 201
    again = await client.get(f"{GOOGLE}/callback", params=params)
    assert "already" in assert_problem(again, 400, "oauth-state-used")["detail"]


async def test_an_expired_state_is_refused(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeAuthorizationServer, owner: dict[str, str]
) -> None:
    url = await begin(client, owner)
    with app.state.session_factory() as session:
        session.execute(sa.update(OAuthState).values(expires_at=utcnow() - timedelta(seconds=1)))
        session.commit()
    response = await client.get(
        f"{GOOGLE}/callback", params={"code": fake.approve(url), "state": query(url)["state"]}
    )
    assert "expired" in assert_problem(response, 400, "oauth-state-expired")["detail"]
    assert fake.requests == []  # the code was never exchanged


async def test_an_unknown_or_missing_state_is_refused(
    client: httpx.AsyncClient, fake: FakeAuthorizationServer, owner: dict[str, str]
) -> None:
    url = await begin(client, owner)
    response = await client.get(f"{GOOGLE}/callback", params={"code": "x", "state": "forged-state"})
    assert_problem(response, 400, "oauth-state-invalid")
    # A Google state is unknown at the Microsoft callback.
    response = await client.get(
        f"{MICROSOFT}/callback", params={"code": "x", "state": query(url)["state"]}
    )
    assert_problem(response, 400, "oauth-state-invalid")
    body = assert_problem(
        await client.get(f"{GOOGLE}/callback", params={"code": "x"}), 422, "validation-error"
    )
    assert body["errors"][0]["field"] == "state"
    assert fake.requests == []


async def test_another_users_state_is_refused_when_a_token_is_sent(
    app: FastAPI, api: Api, client: httpx.AsyncClient, fake: FakeAuthorizationServer
) -> None:
    registered = await api.register()
    add_user(app, registered["organization"]["id"], "ad@example.com", Role.ADMIN)
    ana = bearer((await api.login())["access_token"])
    other = bearer((await api.login("ad@example.com"))["access_token"])
    stranger = bearer((await api.signed_in("eve@example.com", "Evil"))["access_token"])
    url = await begin(client, ana)
    params = {"code": fake.approve(url), "state": query(url)["state"]}
    for headers in (other, stranger):
        response = await client.get(f"{GOOGLE}/callback", params=params, headers=headers)
        assert "another user" in assert_problem(response, 403, "oauth-state-foreign")["detail"]
    assert fake.requests == []
    # Refusing a foreign presenter does not use the state up: its owner still completes it.
    response = await client.get(f"{GOOGLE}/callback", params=params, headers=ana)
    assert response.status_code == 201, response.text
    with app.state.session_factory() as session:
        org = session.scalar(sa.select(DataSourceConnection.organization_id))
    assert str(org) == registered["organization"]["id"]


async def test_an_invalid_token_on_the_callback_is_refused(
    client: httpx.AsyncClient, fake: FakeAuthorizationServer, owner: dict[str, str]
) -> None:
    url = await begin(client, owner)
    params = {"code": fake.approve(url), "state": query(url)["state"]}
    response = await client.get(f"{GOOGLE}/callback", params=params, headers=bearer("not-a-jwt"))
    assert_problem(response, 401, "unauthorized")


async def test_a_user_demoted_meanwhile_cannot_complete(
    app: FastAPI, api: Api, client: httpx.AsyncClient, fake: FakeAuthorizationServer
) -> None:
    registered = await api.register()
    add_user(app, registered["organization"]["id"], "ad@example.com", Role.ADMIN)
    admin = bearer((await api.login("ad@example.com"))["access_token"])
    url = await begin(client, admin)
    with app.state.session_factory() as session:
        from docg_server.models import User

        session.execute(sa.update(User).where(User.email == "ad@example.com").values(role="member"))
        session.commit()
    response = await client.get(
        f"{GOOGLE}/callback", params={"code": fake.approve(url), "state": query(url)["state"]}
    )
    assert_problem(response, 403, "forbidden")
    assert fake.requests == []


async def test_access_denied_at_the_provider_is_a_clear_problem(
    client: httpx.AsyncClient, fake: FakeAuthorizationServer, owner: dict[str, str]
) -> None:
    url = await begin(client, owner)
    state = query(url)["state"]
    response = await client.get(
        f"{GOOGLE}/callback", params={"error": "access_denied", "state": state}
    )
    assert "refused" in assert_problem(response, 400, "oauth-access-denied")["detail"]
    # The state is used up: a later code with it is refused.
    response = await client.get(f"{GOOGLE}/callback", params={"code": "x", "state": state})
    assert_problem(response, 400, "oauth-state-used")
    other = await begin(client, owner)
    response = await client.get(
        f"{GOOGLE}/callback",
        params={"error": "<script>", "state": query(other)["state"]},
    )
    body = assert_problem(response, 400, "oauth-provider-error")
    assert "<script>" not in response.text and body["error"] == "an unknown error"


async def test_the_server_sends_the_stored_verifier_and_a_wrong_one_fails(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeAuthorizationServer, owner: dict[str, str]
) -> None:
    url = await begin(client, owner)
    with app.state.session_factory() as session:
        row = session.scalars(sa.select(OAuthState)).one()
        keyring = app.state.settings.keyring()
        row.code_verifier = keyring.encrypt_json("x" * 64, str(row.id))
        session.commit()
    response = await client.get(
        f"{GOOGLE}/callback", params={"code": fake.approve(url), "state": query(url)["state"]}
    )
    body = assert_problem(response, 502, "oauth-token-exchange-failed")
    assert body["error"] == "invalid_grant" and "code_verifier" in body["detail"]
    assert fake.issued_access_tokens == []


async def test_an_unknown_code_is_a_token_exchange_failure(
    client: httpx.AsyncClient, fake: FakeAuthorizationServer, owner: dict[str, str]
) -> None:
    url = await begin(client, owner)
    response = await client.get(
        f"{GOOGLE}/callback", params={"code": "forged", "state": query(url)["state"]}
    )
    assert assert_problem(response, 502, "oauth-token-exchange-failed")["error"] == "invalid_grant"
    fake.fail_next(503)
    url = await begin(client, owner)
    response = await client.get(
        f"{GOOGLE}/callback", params={"code": fake.approve(url), "state": query(url)["state"]}
    )
    assert assert_problem(response, 502, "oauth-token-exchange-failed")["error"] == "http_error"


async def test_reconnecting_updates_the_same_named_connection(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeAuthorizationServer, owner: dict[str, str]
) -> None:
    first = (await connect(client, fake, owner)).json()
    row, before = stored(app, first["id"])
    with app.state.session_factory() as session:
        session.execute(sa.update(DataSourceConnection).values(status="expired"))
        session.commit()
    again = await connect(client, fake, owner)
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first["id"] and again.json()["created"] is False
    assert again.json()["status"] == "active"
    updated, after = stored(app, first["id"])
    assert after["access_token"] != before["access_token"]
    assert updated.credentials_version == row.credentials_version + 1
    with app.state.session_factory() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(DataSourceConnection)) == 1


async def test_hubspot_asks_for_the_installed_apps_scopes_and_makes_a_hubspot_connection(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeAuthorizationServer, owner: dict[str, str]
) -> None:
    import docg_hubspot
    from docg_hubspot.auth import SCOPES

    use_plugins(app, docg_hubspot)
    fake.include_scope = False  # HubSpot's token answer carries no scope
    url = await begin(client, owner, HUBSPOT, connection_name="crm")
    assert url.startswith("https://app.hubspot.com/oauth/authorize?")
    assert query(url)["scope"].split() == list(SCOPES)
    code = fake.approve(url)
    response = await client.get(
        f"{HUBSPOT}/callback", params={"code": code, "state": query(url)["state"]}
    )
    assert response.status_code == 201, response.text
    assert response.json()["app_key"] == "hubspot"
    assert response.json()["scopes"] == list(SCOPES)  # absent scope = the requested ones
    _row, credentials = stored(app, response.json()["id"])
    # What the HubSpot app needs to refresh by itself and to check webhook signatures.
    assert credentials["client_id"] == CLIENT_ID and credentials["client_secret"] == CLIENT_SECRET


async def test_no_token_state_or_code_is_logged(
    client: httpx.AsyncClient,
    fake: FakeAuthorizationServer,
    owner: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    url = await begin(client, owner)
    code = fake.approve(url)
    state = query(url)["state"]
    response = await client.get(f"{GOOGLE}/callback", params={"code": code, "state": state})
    assert response.status_code == 201
    assert any("oauth: google connection" in r.getMessage() for r in caplog.records)
    secrets = [code, state, *fake.issued_access_tokens, *fake.refresh_tokens, CLIENT_SECRET]
    for record in caplog.records:
        if record.getMessage().startswith("HTTP Request: GET http://testserver/"):
            continue  # this test's own client, which did send them
        text = record.getMessage() + str(record.__dict__)
        assert not [s for s in secrets if s in text], record.getMessage()


def test_docs_name_every_callback_url_setting_and_problem() -> None:
    from pathlib import Path

    from docg_server.oauth import PROVIDERS

    text = (Path(__file__).resolve().parents[2] / "docs" / "oauth.md").read_text()
    for provider in PROVIDERS.values():
        assert f"`<PUBLIC_URL>/api/v1{provider.path}/callback`" in text, provider.key
        assert provider.client_id_setting in text and provider.client_secret_setting in text
        assert provider.token_url.split("{")[0] in text, provider.key
    for slug in (
        "oauth-state-invalid",
        "oauth-state-used",
        "oauth-state-expired",
        "oauth-state-foreign",
        "oauth-access-denied",
        "oauth-provider-error",
        "oauth-token-exchange-failed",
        "oauth-not-configured",
        "connection_expired",
    ):
        assert f"`{slug}`" in text, slug
