"""Invitations: who may invite whom, one-time tokens, and the plan's user limit held atomically."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from server.apikit import PASSWORD, Api, assert_problem, bearer, client_for, make_settings

from docg_server.app import create_app
from docg_server.config import Settings
from docg_server.models import Invitation, Organization, User

INVITATIONS = "/api/v1/organizations/me/invitations"
ACCEPT = "/api/v1/auth/accept-invitation"
USERS = "/api/v1/organizations/me/users"


# -- helpers (test_members.py uses them too) ----------------------------------------------


async def owner_headers(api: Api, email: str = "ana@example.com", org: str = "Acme") -> Any:
    tokens = await api.signed_in(email, org)
    return bearer(tokens["access_token"])


def set_users_limit(app: FastAPI, limit: int | None, org_name: str = "Acme") -> None:
    with app.state.session_factory() as session:
        org = session.scalars(sa.select(Organization).where(Organization.name == org_name)).one()
        org.users_limit = limit
        session.commit()


async def invite(
    client: httpx.AsyncClient, headers: dict[str, str], email: str, role: str = "member"
) -> httpx.Response:
    return await client.post(INVITATIONS, json={"email": email, "role": role}, headers=headers)


def token_of(created: httpx.Response) -> str:
    assert created.status_code == 201, created.text
    url: str = created.json()["accept_url"]
    return url.split("#token=", 1)[1]


async def accept(client: httpx.AsyncClient, token: str, name: str = "Bruno") -> httpx.Response:
    return await client.post(ACCEPT, json={"token": token, "password": PASSWORD, "name": name})


async def join(
    api: Api, headers: dict[str, str], email: str, role: str = "member"
) -> dict[str, str]:
    """Invite ``email``, accept, sign in: the new user's headers."""
    accepted = await accept(api.client, token_of(await invite(api.client, headers, email, role)))
    assert accepted.status_code == 201, accepted.text
    return bearer((await api.login(email))["access_token"])


def user_count(app: FastAPI) -> int:
    with app.state.session_factory() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(User)) or 0


# -- inviting and accepting ---------------------------------------------------------------


async def test_an_invited_person_joins_the_organization_with_the_invited_role(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await owner_headers(api)
    set_users_limit(app, 3)

    created = await invite(client, headers, "  Bruno@Example.com ", "admin")
    body = created.json()
    assert created.status_code == 201
    assert body["email"] == "bruno@example.com"
    assert body["role"] == "admin"
    assert body["accept_url"].startswith("http://testserver/accept-invitation#token=")

    accepted = await accept(client, token_of(created), name="Bruno")
    assert accepted.status_code == 201, accepted.text
    joined = accepted.json()
    me = (await client.get("/api/v1/organizations/me", headers=headers)).json()
    assert joined["organization"]["id"] == me["id"]
    assert joined["user"]["email"] == "bruno@example.com"
    assert joined["user"]["role"] == "admin"
    assert joined["user"]["name"] == "Bruno"

    tokens = await api.login("bruno@example.com")
    bruno = bearer(tokens["access_token"])
    assert (await client.get("/api/v1/organizations/me", headers=bruno)).json()["id"] == me["id"]


async def test_invitations_expire_after_seven_days_by_default(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await owner_headers(api)
    set_users_limit(app, 3)
    body = (await invite(client, headers, "bruno@example.com")).json()
    lifetime = datetime.fromisoformat(body["expires_at"]) - datetime.fromisoformat(
        body["created_at"]
    )
    assert abs(lifetime - timedelta(days=7)) < timedelta(seconds=5)


async def test_the_ttl_and_the_accept_page_come_from_the_settings(settings: Settings) -> None:
    custom = make_settings(
        settings.DATABASE_URL,
        INVITATION_TTL_SECONDS=60,
        INVITATION_ACCEPT_URL="https://app.docg.example/join",
    )
    app = create_app(custom)
    try:
        async with client_for(app) as client:
            headers = await owner_headers(Api(client))
            set_users_limit(app, 3)
            body = (await invite(client, headers, "bruno@example.com")).json()
    finally:
        app.state.engine.dispose()
    assert body["accept_url"].startswith("https://app.docg.example/join#token=")
    lifetime = datetime.fromisoformat(body["expires_at"]) - datetime.fromisoformat(
        body["created_at"]
    )
    assert abs(lifetime - timedelta(seconds=60)) < timedelta(seconds=5)


async def test_the_accept_link_uses_the_public_url(settings: Settings) -> None:
    app = create_app(make_settings(settings.DATABASE_URL, PUBLIC_URL="https://docg.example/"))
    try:
        async with client_for(app) as client:
            headers = await owner_headers(Api(client))
            set_users_limit(app, 3)
            body = (await invite(client, headers, "bruno@example.com")).json()
    finally:
        app.state.engine.dispose()
    assert body["accept_url"].startswith("https://docg.example/accept-invitation#token=")


async def test_invitation_tokens_are_random_and_stored_only_as_sha256_hashes(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await owner_headers(api)
    set_users_limit(app, 5)
    tokens = [token_of(await invite(client, headers, f"p{i}@example.com")) for i in range(2)]
    assert tokens[0] != tokens[1]
    assert all(len(token) >= 43 for token in tokens)  # 256 bits, base64url
    with app.state.session_factory() as session:
        stored = set(session.scalars(sa.select(Invitation.token_hash)))
    assert stored == {hashlib.sha256(t.encode()).hexdigest() for t in tokens}


async def test_the_list_shows_pending_invitations_and_never_their_tokens(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await owner_headers(api)
    set_users_limit(app, 10)
    pending = await invite(client, headers, "pending@example.com")
    await accept(client, token_of(await invite(client, headers, "accepted@example.com")))
    revoked = (await invite(client, headers, "revoked@example.com")).json()
    await client.delete(f"{INVITATIONS}/{revoked['id']}", headers=headers)
    expired = (await invite(client, headers, "expired@example.com")).json()
    with app.state.session_factory() as session:
        row = session.get_one(Invitation, uuid.UUID(expired["id"]))
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        session.commit()

    response = await client.get(INVITATIONS, headers=headers)
    assert response.status_code == 200
    items = response.json()["items"]
    assert [item["email"] for item in items] == ["pending@example.com"]
    assert items[0]["id"] == pending.json()["id"]
    assert "accept_url" not in items[0] and "token" not in items[0]
    assert "token_hash" not in items[0]


async def test_the_invitation_list_pages_with_a_cursor(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await owner_headers(api)
    set_users_limit(app, None)
    for i in range(3):
        await invite(client, headers, f"p{i}@example.com")
    first = (await client.get(INVITATIONS, params={"limit": 2}, headers=headers)).json()
    second = (
        await client.get(
            INVITATIONS, params={"limit": 2, "cursor": first["next_cursor"]}, headers=headers
        )
    ).json()
    emails = [i["email"] for i in first["items"] + second["items"]]
    assert emails == ["p0@example.com", "p1@example.com", "p2@example.com"]
    assert second["next_cursor"] is None


async def test_admins_invite_members_but_only_owners_invite_admins(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await owner_headers(api)
    set_users_limit(app, 10)
    admin = await join(api, headers, "admin@example.com", "admin")

    assert (await invite(client, admin, "member@example.com", "member")).status_code == 201
    body = assert_problem(
        await invite(client, admin, "other@example.com", "admin"), 403, "forbidden"
    )
    assert "owner" in body["detail"]
    assert (await invite(client, headers, "other@example.com", "admin")).status_code == 201


async def test_members_may_not_invite_nor_list_invitations(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await owner_headers(api)
    set_users_limit(app, 10)
    member = await join(api, headers, "member@example.com")
    assert_problem(await invite(client, member, "x@example.com"), 403, "forbidden")
    assert_problem(await client.get(INVITATIONS, headers=member), 403, "forbidden")


@pytest.mark.parametrize("role", ["owner", "superuser", ""])
async def test_only_admin_or_member_can_be_invited(
    api: Api, app: FastAPI, client: httpx.AsyncClient, role: str
) -> None:
    headers = await owner_headers(api)
    set_users_limit(app, 10)
    body = assert_problem(
        await invite(client, headers, "x@example.com", role), 422, "validation-error"
    )
    assert body["errors"][0]["field"] == "role"


async def test_an_email_already_registered_in_any_organization_is_a_409(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await owner_headers(api)
    set_users_limit(app, 10)
    await api.register("zoe@example.com", "Other Org")
    response = await invite(client, headers, "ZOE@example.com")
    assert_problem(response, 409, "email-already-registered")
    assert_problem(
        await invite(client, headers, "ana@example.com"), 409, "email-already-registered"
    )


async def test_a_second_pending_invitation_for_an_email_is_a_409(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await owner_headers(api)
    set_users_limit(app, 10)
    first = (await invite(client, headers, "bruno@example.com")).json()
    assert_problem(
        await invite(client, headers, "bruno@example.com"), 409, "invitation-already-pending"
    )
    await client.delete(f"{INVITATIONS}/{first['id']}", headers=headers)
    assert (await invite(client, headers, "bruno@example.com")).status_code == 201


async def test_an_invitation_works_once(api: Api, app: FastAPI, client: httpx.AsyncClient) -> None:
    headers = await owner_headers(api)
    set_users_limit(app, 10)
    token = token_of(await invite(client, headers, "bruno@example.com"))
    assert (await accept(client, token)).status_code == 201
    assert_problem(await accept(client, token), 409, "invitation-used")
    assert user_count(app) == 2


async def test_a_revoked_invitation_cannot_be_accepted(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await owner_headers(api)
    set_users_limit(app, 10)
    created = await invite(client, headers, "bruno@example.com")
    revoked = await client.delete(f"{INVITATIONS}/{created.json()['id']}", headers=headers)
    assert revoked.status_code == 204
    assert_problem(await accept(client, token_of(created)), 409, "invitation-revoked")
    again = await client.delete(f"{INVITATIONS}/{created.json()['id']}", headers=headers)
    assert_problem(again, 404, "not-found")
    assert user_count(app) == 1


async def test_an_expired_invitation_cannot_be_accepted(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await owner_headers(api)
    set_users_limit(app, 10)
    created = await invite(client, headers, "bruno@example.com")
    with app.state.session_factory() as session:
        row = session.get_one(Invitation, uuid.UUID(created.json()["id"]))
        row.expires_at = datetime.now(UTC) - timedelta(minutes=1)
        session.commit()
    body = assert_problem(await accept(client, token_of(created)), 409, "invitation-expired")
    assert "new invitation" in body["detail"]
    assert user_count(app) == 1


async def test_an_unknown_token_is_a_404_problem(client: httpx.AsyncClient) -> None:
    assert_problem(await accept(client, "not-a-real-token"), 404, "invitation-not-found")


async def test_accepting_needs_a_real_password_and_never_echoes_it(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await owner_headers(api)
    set_users_limit(app, 10)
    token = token_of(await invite(client, headers, "bruno@example.com"))
    response = await client.post(ACCEPT, json={"token": token, "password": "short7!"})
    body = assert_problem(response, 422, "validation-error")
    assert [e["field"] for e in body["errors"]] == ["password"]
    assert "short7!" not in response.text
    assert (await accept(client, token)).status_code == 201  # the token was not spent


async def test_an_email_registered_after_the_invitation_cannot_accept_it(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await owner_headers(api)
    set_users_limit(app, 10)
    token = token_of(await invite(client, headers, "bruno@example.com"))
    await api.register("bruno@example.com", "Bruno's own")
    assert_problem(await accept(client, token), 409, "email-already-registered")


async def test_another_organizations_invitation_is_a_404(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await owner_headers(api)
    set_users_limit(app, 10)
    theirs = (await invite(client, headers, "bruno@example.com")).json()
    other = await owner_headers(api, "zoe@example.com", "Other")
    set_users_limit(app, 10, "Other")
    assert (await client.get(INVITATIONS, headers=other)).json()["items"] == []
    assert_problem(
        await client.delete(f"{INVITATIONS}/{theirs['id']}", headers=other), 404, "not-found"
    )
    assert len((await client.get(INVITATIONS, headers=headers)).json()["items"]) == 1


# -- the plan's user limit ------------------------------------------------------------------


async def test_the_free_plan_has_no_seat_to_invite_into(
    api: Api, client: httpx.AsyncClient
) -> None:
    headers = await owner_headers(api)  # Free: 1 user, the owner
    body = assert_problem(
        await invite(client, headers, "bruno@example.com"), 403, "plan-limit-reached"
    )
    assert body["limit"] == "users_limit"
    assert body["limit_value"] == 1
    assert body["plan"] == "free"


async def test_pending_invitations_hold_seats_until_revoked(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await owner_headers(api)
    set_users_limit(app, 3)
    first = (await invite(client, headers, "p1@example.com")).json()
    await invite(client, headers, "p2@example.com")
    body = assert_problem(
        await invite(client, headers, "p3@example.com"), 403, "plan-limit-reached"
    )
    assert body["limit_value"] == 3

    await client.delete(f"{INVITATIONS}/{first['id']}", headers=headers)
    assert (await invite(client, headers, "p3@example.com")).status_code == 201


async def test_expired_invitations_free_their_seats(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await owner_headers(api)
    set_users_limit(app, 2)
    await invite(client, headers, "p1@example.com")
    with app.state.session_factory() as session:
        session.execute(
            sa.update(Invitation).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        session.commit()
    assert (await invite(client, headers, "p2@example.com")).status_code == 201


async def test_an_unlimited_plan_invites_without_limit(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await owner_headers(api)
    set_users_limit(app, None)
    for i in range(6):
        assert (await invite(client, headers, f"p{i}@example.com")).status_code == 201


async def test_accepting_checks_the_user_limit_again(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await owner_headers(api)
    set_users_limit(app, 3)
    token = token_of(await invite(client, headers, "bruno@example.com"))
    set_users_limit(app, 1)  # e.g. a downgrade since the invitation was sent
    body = assert_problem(await accept(client, token), 403, "plan-limit-reached")
    assert body["limit"] == "users_limit"
    assert body["limit_value"] == 1
    assert user_count(app) == 1
    set_users_limit(app, 2)
    assert (await accept(client, token)).status_code == 201  # the refusal did not spend it


async def test_concurrent_accepts_never_pass_the_user_limit(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await owner_headers(api)
    set_users_limit(app, 6)
    tokens = [token_of(await invite(client, headers, f"p{i}@example.com")) for i in range(5)]
    set_users_limit(app, 2)  # the owner and one free seat

    # Sync routes run in the threadpool: these requests really race.
    responses = await asyncio.gather(*(accept(client, token) for token in tokens))

    assert sorted(r.status_code for r in responses) == [201] + [403] * 4
    for response in responses:
        if response.status_code == 403:
            assert_problem(response, 403, "plan-limit-reached")
    assert user_count(app) == 2


async def test_concurrent_accepts_of_one_token_create_one_user(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await owner_headers(api)
    set_users_limit(app, 10)
    token = token_of(await invite(client, headers, "bruno@example.com"))

    responses = await asyncio.gather(*(accept(client, token) for _ in range(5)))

    assert sorted(r.status_code for r in responses) == [201] + [409] * 4
    assert user_count(app) == 2


async def test_concurrent_invitations_never_pass_the_user_limit(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await owner_headers(api)
    set_users_limit(app, 3)

    responses = await asyncio.gather(
        *(invite(client, headers, f"p{i}@example.com") for i in range(6))
    )

    assert sorted(r.status_code for r in responses) == [201] * 2 + [403] * 4
    with app.state.session_factory() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Invitation)) == 2
