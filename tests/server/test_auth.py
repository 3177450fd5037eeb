"""/api/v1/auth: register, login, refresh rotation with reuse detection, logout, throttling,
and the access token checks every protected route relies on."""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from fastapi import FastAPI
from server.apikit import PASSWORD, Api, assert_problem, bearer, client_for

from docg_server import security
from docg_server.app import close_app, create_app
from docg_server.config import DEV_JWT_SECRET, Settings
from docg_server.models import RefreshToken, User
from docg_server.security import create_access_token, hash_password, verify_password

ME = "/api/v1/organizations/me"


async def test_register_creates_a_free_organization_and_its_owner(api: Api) -> None:
    body = await api.register("Ana@Example.com", "Acme Ltda")
    assert body["user"]["email"] == "ana@example.com"
    assert body["user"]["role"] == "owner"
    assert body["user"]["organization_id"] == body["organization"]["id"]
    org = body["organization"]
    assert (org["name"], org["plan"], org["users_limit"], org["documents_limit"]) == (
        "Acme Ltda",
        "free",
        1,
        10,
    )
    assert org["workflows_limit"] == 5 and org["documents_used"] == 0
    assert "password" not in str(body) and "hash" not in str(body)


async def test_passwords_are_stored_as_argon2id_hashes(api: Api, app: FastAPI) -> None:
    await api.register()
    with app.state.session_factory() as session:
        stored = session.scalar(sa.select(User.password_hash))
    assert stored is not None and stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_the_production_password_hasher_uses_argon2id_with_rfc_9106_parameters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.undo()  # the real hasher, not the tests' fast one
    hashed = hash_password("a long enough password")
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert verify_password(hashed, "a long enough password")


async def test_a_registered_email_in_any_case_is_a_409_problem(
    api: Api, client: httpx.AsyncClient
) -> None:
    await api.register("ana@example.com")
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": " ANA@example.com", "password": PASSWORD, "organization_name": "Other"},
    )
    assert_problem(response, 409, "email-already-registered")


async def test_a_password_shorter_than_8_characters_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": "ana@example.com", "password": "1234567", "organization_name": "Acme"},
    )
    body = assert_problem(response, 422, "validation-error")
    assert [(e["field"], e["code"]) for e in body["errors"]] == [("password", "string_too_short")]


async def test_login_issues_a_15_minute_access_token_naming_user_and_organization(
    api: Api,
) -> None:
    registered = await api.register()
    tokens = await api.login("ANA@example.com")
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 900
    claims = jwt.decode(tokens["access_token"], DEV_JWT_SECRET, algorithms=["HS256"])
    assert claims["sub"] == registered["user"]["id"]
    assert claims["org"] == registered["organization"]["id"]
    assert claims["type"] == "access"
    assert claims["exp"] - claims["iat"] == 900
    assert tokens["refresh_token"] and tokens["refresh_token"] != tokens["access_token"]


@pytest.mark.parametrize(
    ("email", "password"), [("ana@example.com", "wrong password"), ("bob@example.com", PASSWORD)]
)
async def test_a_wrong_password_or_unknown_email_is_the_same_401_problem(
    api: Api, client: httpx.AsyncClient, email: str, password: str
) -> None:
    await api.register()
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    body = assert_problem(response, 401, "invalid-credentials")
    assert body["detail"] == "the email or password is wrong"
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_disabled_user_cannot_log_in_nor_use_its_access_token(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    tokens = await api.signed_in()
    with app.state.session_factory() as session:
        session.execute(sa.update(User).values(is_active=False))
        session.commit()
    response = await client.post(
        "/api/v1/auth/login", json={"email": "ana@example.com", "password": PASSWORD}
    )
    assert_problem(response, 401, "invalid-credentials")
    assert_problem(
        await client.get(ME, headers=bearer(tokens["access_token"])), 401, "unauthorized"
    )
    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert_problem(refreshed, 401, "invalid-refresh-token")


# -- throttling ----------------------------------------------------------------------------


async def fail_login(client: httpx.AsyncClient, email: str, times: int) -> None:
    for _ in range(times):
        response = await client.post(
            "/api/v1/auth/login", json={"email": email, "password": "wrong password"}
        )
        assert response.status_code == 401


async def test_five_failed_logins_answer_429_with_retry_after_even_with_the_right_password(
    api: Api, client: httpx.AsyncClient
) -> None:
    await api.register()
    await fail_login(client, "ana@example.com", 5)
    response = await client.post(
        "/api/v1/auth/login", json={"email": "ana@example.com", "password": PASSWORD}
    )
    body = assert_problem(response, 429, "too-many-requests")
    assert 0 < int(response.headers["retry-after"]) <= 900
    assert body["retry_after"] == int(response.headers["retry-after"])
    # Other accounts are not affected.
    await api.register("bob@example.com", "Bob's")
    await api.login("bob@example.com")


async def test_the_login_throttle_holds_across_server_processes(
    api: Api, client: httpx.AsyncClient, settings: Settings
) -> None:
    await api.register()
    await fail_login(client, "ana@example.com", 5)
    other_process = create_app(settings)  # another app on the same database
    try:
        async with client_for(other_process) as other:
            response = await other.post(
                "/api/v1/auth/login", json={"email": "ana@example.com", "password": PASSWORD}
            )
    finally:
        await close_app(other_process)
    assert_problem(response, 429, "too-many-requests")


async def test_failures_older_than_the_window_no_longer_count(
    api: Api, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await api.register()
    await fail_login(client, "ana@example.com", 5)
    later = datetime.now(UTC) + timedelta(seconds=901)
    monkeypatch.setattr("docg_server.api.v1.auth._now", lambda: later)
    await api.login()


async def test_a_successful_login_clears_the_failures(api: Api, client: httpx.AsyncClient) -> None:
    await api.register()
    await fail_login(client, "ana@example.com", 4)
    await api.login()
    await fail_login(client, "ana@example.com", 4)
    await api.login()


async def test_passwords_and_tokens_are_never_logged(
    api: Api, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        tokens = await api.signed_in()
        await fail_login(client, "ana@example.com", 1)
        first = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert first.status_code == 200
    logged = caplog.text
    assert any("reuse" in r.getMessage() for r in caplog.records)
    for secret in (PASSWORD, "wrong password", tokens["refresh_token"], tokens["access_token"]):
        assert secret not in logged


# -- refresh tokens ------------------------------------------------------------------------


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/api/v1/auth/refresh", json={"refresh_token": token})


async def test_refresh_rotates_the_refresh_token(api: Api, client: httpx.AsyncClient) -> None:
    first = await api.signed_in()
    response = await refresh(client, first["refresh_token"])
    assert response.status_code == 200
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (await client.get(ME, headers=bearer(second["access_token"]))).status_code == 200
    third = await refresh(client, second["refresh_token"])
    assert third.status_code == 200


async def test_reusing_a_refresh_token_revokes_its_whole_family(
    api: Api, client: httpx.AsyncClient
) -> None:
    first = await api.signed_in()
    other_session = await api.login()  # a second login: another family
    second = (await refresh(client, first["refresh_token"])).json()

    stolen = await refresh(client, first["refresh_token"])  # replayed: already used

    body = assert_problem(stolen, 401, "invalid-refresh-token")
    assert "already used" in body["detail"]
    # The legitimate successor is revoked too: the thief and the user both sign in again.
    assert_problem(await refresh(client, second["refresh_token"]), 401, "invalid-refresh-token")
    # Another login's family is untouched.
    assert (await refresh(client, other_session["refresh_token"])).status_code == 200


async def test_an_unknown_refresh_token_is_a_401_problem(client: httpx.AsyncClient) -> None:
    response = await refresh(client, "not-a-token")
    assert_problem(response, 401, "invalid-refresh-token")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_an_expired_refresh_token_is_a_401_problem(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    tokens = await api.signed_in()
    with app.state.session_factory() as session:
        session.execute(
            sa.update(RefreshToken).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        session.commit()
    body = assert_problem(
        await refresh(client, tokens["refresh_token"]), 401, "invalid-refresh-token"
    )
    assert "expired" in body["detail"]


async def test_refresh_tokens_are_stored_only_as_sha256_hashes(api: Api, app: FastAPI) -> None:
    tokens = await api.signed_in()
    with app.state.session_factory() as session:
        [row] = session.scalars(sa.select(RefreshToken)).all()
    assert row.token_hash == hashlib.sha256(tokens["refresh_token"].encode()).hexdigest()
    assert row.revoked_at is None
    assert row.expires_at > datetime.now(UTC) + timedelta(days=29)


async def test_logout_revokes_the_refresh_token(api: Api, client: httpx.AsyncClient) -> None:
    tokens = await api.signed_in()
    response = await client.post(
        "/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}
    )
    assert response.status_code == 204
    assert_problem(await refresh(client, tokens["refresh_token"]), 401, "invalid-refresh-token")


async def test_logout_with_an_unknown_token_still_answers_204(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/auth/logout", json={"refresh_token": "whatever"})
    assert response.status_code == 204


# -- access tokens -------------------------------------------------------------------------


async def test_no_token_is_a_401_problem_asking_for_a_bearer_token(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(ME)
    body = assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in body["detail"]


async def test_an_expired_access_token_is_a_401_problem(
    api: Api, client: httpx.AsyncClient
) -> None:
    registered = await api.register()
    expired = create_access_token(
        DEV_JWT_SECRET,
        user_id=uuid.UUID(registered["user"]["id"]),
        organization_id=uuid.UUID(registered["organization"]["id"]),
        ttl=timedelta(minutes=15),
        now=datetime.now(UTC) - timedelta(minutes=16),
    )
    response = await client.get(ME, headers=bearer(expired))
    body = assert_problem(response, 401, "unauthorized")
    assert "expired" in body["detail"]
    assert response.headers["www-authenticate"] == "Bearer"


def _tamper(token: str) -> str:
    header, _payload, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["exp"] += 3600
    forged = jwt.api_jws.base64url_encode(jwt.utils.force_bytes(jwt.api_jwt.json.dumps(claims)))
    return f"{header}.{forged.decode()}.{signature}"


async def test_tampered_or_foreign_tokens_are_401_problems(
    api: Api, client: httpx.AsyncClient
) -> None:
    tokens = await api.signed_in()
    claims = jwt.decode(tokens["access_token"], DEV_JWT_SECRET, algorithms=["HS256"])
    forgeries = [
        _tamper(tokens["access_token"]),
        jwt.encode(claims, "another-secret-" * 4, algorithm="HS256"),
        jwt.encode(claims, None, algorithm="none"),
        jwt.encode({**claims, "type": "refresh"}, DEV_JWT_SECRET, algorithm="HS256"),
        jwt.encode({**claims, "sub": "not-a-uuid"}, DEV_JWT_SECRET, algorithm="HS256"),
        jwt.encode({**claims, "sub": str(uuid.uuid4())}, DEV_JWT_SECRET, algorithm="HS256"),
        tokens["refresh_token"],
        "not.a.jwt",
    ]
    for forged in forgeries:
        response = await client.get(ME, headers=bearer(forged))
        assert_problem(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"
    basic = await client.get(ME, headers={"Authorization": "Basic YW5hOnB3"})
    assert_problem(basic, 401, "unauthorized")


async def test_login_rehashes_a_password_hashed_with_old_parameters(
    api: Api, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    await api.register()
    stronger = PasswordHasher(time_cost=2, memory_cost=512, parallelism=1)
    monkeypatch.setattr(security, "_hasher", stronger)
    await api.login()
    with app.state.session_factory() as session:
        stored = session.scalar(sa.select(User.password_hash))
    assert stored is not None and "m=512,t=2,p=1" in stored
