"""/api/v1/organizations/me: roles, and the tenant always taken from the access token."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from server.apikit import PASSWORD, Api, assert_problem, bearer

from docg_server.config import DEV_JWT_SECRET
from docg_server.models import Role, User
from docg_server.security import create_access_token, hash_password

ME = "/api/v1/organizations/me"


def add_user(app: FastAPI, organization_id: str, email: str, role: Role) -> None:
    """A second user of an organization (invitations are not an endpoint yet)."""
    with app.state.session_factory() as session:
        session.add(
            User(
                organization_id=uuid.UUID(organization_id),
                email=email,
                password_hash=hash_password(PASSWORD),
                role=role.value,
            )
        )
        session.commit()


async def test_get_me_answers_the_callers_organization(api: Api, client: httpx.AsyncClient) -> None:
    registered = await api.register(org="Acme")
    tokens = await api.login()
    response = await client.get(ME, headers=bearer(tokens["access_token"]))
    assert response.status_code == 200
    assert response.json() == registered["organization"]


async def test_the_owner_renames_the_organization(api: Api, client: httpx.AsyncClient) -> None:
    tokens = await api.signed_in()
    headers = bearer(tokens["access_token"])
    response = await client.put(ME, json={"name": "  Acme Brasil  "}, headers=headers)
    assert response.status_code == 200
    assert response.json()["name"] == "Acme Brasil"
    assert (await client.get(ME, headers=headers)).json()["name"] == "Acme Brasil"


@pytest.mark.parametrize(("role", "allowed"), [(Role.ADMIN, True), (Role.MEMBER, False)])
async def test_admins_may_rename_and_members_get_a_403_problem(
    api: Api, app: FastAPI, client: httpx.AsyncClient, role: Role, allowed: bool
) -> None:
    registered = await api.register()
    add_user(app, registered["organization"]["id"], "second@example.com", role)
    tokens = await api.login("second@example.com")
    headers = bearer(tokens["access_token"])

    response = await client.put(ME, json={"name": "Renamed"}, headers=headers)

    if allowed:
        assert response.status_code == 200
        assert response.json()["name"] == "Renamed"
    else:
        assert_problem(response, 403, "forbidden")
        assert (await client.get(ME, headers=headers)).json()["name"] == "Acme"


async def test_plan_and_limits_cannot_be_changed_through_the_api(
    api: Api, client: httpx.AsyncClient
) -> None:
    tokens = await api.signed_in()
    response = await client.put(
        ME,
        json={"name": "Acme", "plan": "enterprise", "documents_limit": None},
        headers=bearer(tokens["access_token"]),
    )
    body = assert_problem(response, 422, "validation-error")
    assert {e["field"] for e in body["errors"]} == {"plan", "documents_limit"}


@pytest.mark.parametrize("name", ["", "   ", "x" * 201])
async def test_a_blank_or_too_long_name_is_a_422_problem(
    api: Api, client: httpx.AsyncClient, name: str
) -> None:
    tokens = await api.signed_in()
    response = await client.put(ME, json={"name": name}, headers=bearer(tokens["access_token"]))
    body = assert_problem(response, 422, "validation-error")
    assert [e["field"] for e in body["errors"]] == ["name"]


async def test_renaming_needs_a_token(client: httpx.AsyncClient) -> None:
    assert_problem(await client.put(ME, json={"name": "x"}), 401, "unauthorized")


async def test_another_organizations_data_is_never_visible(
    api: Api, client: httpx.AsyncClient
) -> None:
    acme = await api.register("ana@acme.example", "Acme")
    globex = await api.register("hank@globex.example", "Globex")
    acme_token = (await api.login("ana@acme.example"))["access_token"]
    globex_id = globex["organization"]["id"]

    # Naming the other tenant in a header or a query parameter changes nothing.
    response = await client.get(
        ME,
        params={"organization_id": globex_id, "org": globex_id},
        headers={**bearer(acme_token), "X-Organization-Id": globex_id, "X-Tenant-Id": globex_id},
    )
    assert response.status_code == 200
    assert response.json()["id"] == acme["organization"]["id"]
    assert "Globex" not in response.text

    renamed = await client.put(
        ME,
        params={"organization_id": globex_id},
        headers={**bearer(acme_token), "X-Organization-Id": globex_id},
        json={"name": "Acme 2"},
    )
    assert renamed.json()["id"] == acme["organization"]["id"]
    globex_token = (await api.login("hank@globex.example"))["access_token"]
    assert (await client.get(ME, headers=bearer(globex_token))).json()["name"] == "Globex"


async def test_a_token_claiming_another_organization_is_refused(
    api: Api, client: httpx.AsyncClient
) -> None:
    acme = await api.register("ana@acme.example", "Acme")
    globex = await api.register("hank@globex.example", "Globex")
    forged = create_access_token(
        DEV_JWT_SECRET,  # even signed with the right secret
        user_id=uuid.UUID(acme["user"]["id"]),
        organization_id=uuid.UUID(globex["organization"]["id"]),
        ttl=timedelta(minutes=5),
    )
    assert_problem(await client.get(ME, headers=bearer(forged)), 401, "unauthorized")
