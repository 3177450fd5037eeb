"""/api/v1/organizations/me/users: listing, role changes, removal; never without an owner."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from server.apikit import Api, assert_problem, bearer
from server.test_invitations import invite, join, owner_headers, set_users_limit, user_count

USERS = "/api/v1/organizations/me/users"


async def user_id(client: httpx.AsyncClient, headers: dict[str, str], email: str) -> str:
    items = (await client.get(USERS, headers=headers)).json()["items"]
    [found] = [u["id"] for u in items if u["email"] == email]
    return str(found)


async def patch_role(
    client: httpx.AsyncClient, headers: dict[str, str], ident: str, role: str
) -> httpx.Response:
    return await client.patch(f"{USERS}/{ident}", json={"role": role}, headers=headers)


async def test_every_user_of_the_organization_lists_its_users_and_only_them(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await owner_headers(api)
    set_users_limit(app, 5)
    member = await join(api, headers, "member@example.com")
    await owner_headers(api, "zoe@example.com", "Other")

    response = await client.get(USERS, headers=member)
    assert response.status_code == 200
    body = response.json()
    assert [(u["email"], u["role"]) for u in body["items"]] == [
        ("ana@example.com", "owner"),
        ("member@example.com", "member"),
    ]
    assert body["next_cursor"] is None
    assert "password_hash" not in body["items"][0]


async def test_the_user_list_pages_with_a_cursor(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await owner_headers(api)
    set_users_limit(app, None)
    for i in range(2):
        await join(api, headers, f"p{i}@example.com")
    first = (await client.get(USERS, params={"limit": 2}, headers=headers)).json()
    assert first["next_cursor"]
    second = (
        await client.get(
            USERS, params={"limit": 2, "cursor": first["next_cursor"]}, headers=headers
        )
    ).json()
    emails = [u["email"] for u in first["items"] + second["items"]]
    assert emails == ["ana@example.com", "p0@example.com", "p1@example.com"]
    assert second["next_cursor"] is None


async def test_a_cursor_the_api_never_issued_is_a_422_problem(
    api: Api, client: httpx.AsyncClient
) -> None:
    headers = await owner_headers(api)
    response = await client.get(USERS, params={"cursor": "bm90LWEtY3Vyc29y"}, headers=headers)
    assert_problem(response, 422, "validation-error")


async def test_the_owner_changes_a_members_role(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await owner_headers(api)
    set_users_limit(app, 5)
    member = await join(api, headers, "member@example.com")
    ident = await user_id(client, headers, "member@example.com")

    response = await patch_role(client, headers, ident, "admin")
    assert response.status_code == 200
    assert response.json()["role"] == "admin"
    # The new role takes effect at once: admins may invite.
    assert (await invite(client, member, "x@example.com")).status_code == 201


@pytest.mark.parametrize("role", ["admin", "member"])
async def test_only_an_owner_changes_roles(
    api: Api, app: FastAPI, client: httpx.AsyncClient, role: str
) -> None:
    headers = await owner_headers(api)
    set_users_limit(app, 5)
    caller = await join(api, headers, "caller@example.com", role)
    await join(api, headers, "other@example.com")
    other = await user_id(client, headers, "other@example.com")
    assert_problem(await patch_role(client, caller, other, "admin"), 403, "forbidden")
    mine = await user_id(client, headers, "caller@example.com")
    assert_problem(await patch_role(client, caller, mine, "owner"), 403, "forbidden")


async def test_an_unknown_role_is_a_422_problem(api: Api, client: httpx.AsyncClient) -> None:
    headers = await owner_headers(api)
    ident = await user_id(client, headers, "ana@example.com")
    body = assert_problem(await patch_role(client, headers, ident, "root"), 422, "validation-error")
    assert body["errors"][0]["field"] == "role"


async def test_the_last_owner_cannot_step_down(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await owner_headers(api)
    set_users_limit(app, 5)
    me = await user_id(client, headers, "ana@example.com")
    body = assert_problem(await patch_role(client, headers, me, "admin"), 409, "last-owner")
    assert "owner" in body["detail"]

    await join(api, headers, "bruno@example.com")
    bruno = await user_id(client, headers, "bruno@example.com")
    assert (await patch_role(client, headers, bruno, "owner")).status_code == 200
    assert (await patch_role(client, headers, me, "member")).json()["role"] == "member"


async def test_two_owners_demoting_each_other_at_once_leave_one_owner(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    ana = await owner_headers(api)
    set_users_limit(app, 5)
    bruno = await join(api, ana, "bruno@example.com")
    bruno_id = await user_id(client, ana, "bruno@example.com")
    await patch_role(client, ana, bruno_id, "owner")
    ana_id = await user_id(client, ana, "ana@example.com")

    responses = await asyncio.gather(
        patch_role(client, ana, bruno_id, "member"),
        patch_role(client, bruno, ana_id, "member"),
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses in ([200, 403], [200, 409]), [r.text for r in responses]
    roles = [u["role"] for u in (await client.get(USERS, headers=ana)).json()["items"]]
    assert roles.count("owner") == 1


async def test_removing_a_user_ends_their_sessions(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await owner_headers(api)
    set_users_limit(app, 5)
    await join(api, headers, "bruno@example.com")
    tokens = await api.login("bruno@example.com")
    ident = await user_id(client, headers, "bruno@example.com")

    assert (await client.delete(f"{USERS}/{ident}", headers=headers)).status_code == 204

    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert_problem(refreshed, 401, "invalid-refresh-token")
    me = await client.get("/api/v1/organizations/me", headers=bearer(tokens["access_token"]))
    assert_problem(me, 401, "unauthorized")
    login = await client.post(
        "/api/v1/auth/login", json={"email": "bruno@example.com", "password": "x" * 8}
    )
    assert_problem(login, 401, "invalid-credentials")
    assert user_count(app) == 1


async def test_removing_a_user_frees_their_seat(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await owner_headers(api)
    set_users_limit(app, 2)
    await join(api, headers, "bruno@example.com")
    assert_problem(await invite(client, headers, "carla@example.com"), 403, "plan-limit-reached")
    ident = await user_id(client, headers, "bruno@example.com")
    await client.delete(f"{USERS}/{ident}", headers=headers)
    assert (await invite(client, headers, "carla@example.com")).status_code == 201


async def test_admins_remove_members_but_not_owners(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await owner_headers(api)
    set_users_limit(app, 5)
    admin = await join(api, headers, "admin@example.com", "admin")
    await join(api, headers, "member@example.com")
    member = await user_id(client, headers, "member@example.com")
    owner = await user_id(client, headers, "ana@example.com")

    assert_problem(await client.delete(f"{USERS}/{owner}", headers=admin), 403, "forbidden")
    assert (await client.delete(f"{USERS}/{member}", headers=admin)).status_code == 204


async def test_members_remove_nobody(api: Api, app: FastAPI, client: httpx.AsyncClient) -> None:
    headers = await owner_headers(api)
    set_users_limit(app, 5)
    member = await join(api, headers, "member@example.com")
    owner = await user_id(client, headers, "ana@example.com")
    assert_problem(await client.delete(f"{USERS}/{owner}", headers=member), 403, "forbidden")
    assert user_count(app) == 2


async def test_the_last_owner_cannot_be_removed(api: Api, client: httpx.AsyncClient) -> None:
    headers = await owner_headers(api)
    me = await user_id(client, headers, "ana@example.com")
    assert_problem(await client.delete(f"{USERS}/{me}", headers=headers), 409, "last-owner")


@pytest.mark.parametrize("method", ["patch", "delete"])
async def test_another_organizations_user_is_a_404(
    api: Api, app: FastAPI, client: httpx.AsyncClient, method: str
) -> None:
    headers = await owner_headers(api)
    other = await owner_headers(api, "zoe@example.com", "Other")
    theirs = await user_id(client, other, "zoe@example.com")
    for ident in (theirs, str(uuid.uuid4())):
        kwargs: dict[str, Any] = {"json": {"role": "member"}} if method == "patch" else {}
        response = await client.request(method, f"{USERS}/{ident}", headers=headers, **kwargs)
        assert_problem(response, 404, "not-found")
    assert (await client.get(USERS, headers=other)).json()["items"][0]["role"] == "owner"
