"""/api/v1/apps: installed apps as JSON Schema, and dynamic data fetched with a connection of
the caller's organization (vendor failures as 502 problems)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import jsonschema
import pytest
from fastapi import FastAPI
from server.apikit import Api, assert_problem, bearer
from server.test_connections import Untested, Vendor, create, org_of, owner, vendor
from server.test_organizations import add_user

from docg_core import hookimpl
from docg_core.apps import BaseApp, BaseDynamicData, DropdownOption
from docg_core.context import ExecutionContext
from docg_core.plugins import get_registry
from docg_server.app import close_app, create_app
from docg_server.config import Settings
from docg_server.models import Role

APPS = "/api/v1/apps"
PIPELINES = f"{APPS}/vendor/dynamic-data/pipelines"


class Colours(BaseDynamicData):
    key = "colours"
    name = "Colours"

    async def run(self, ctx: ExecutionContext) -> list[DropdownOption]:
        shade = ctx.step.parameters.get("shade", "plain")
        return [DropdownOption(f"{shade}-red", "Red"), DropdownOption("blue")]


class Public(BaseApp):
    """An app without auth: its dynamic data needs no connection."""

    key = "public"
    name = "Public"
    dynamic_data = (Colours,)


class Plugin:
    @hookimpl
    def docg_apps(self) -> list[type[BaseApp]]:
        return [Vendor, Untested, Public]


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    application.state.registry = get_registry(extra=[Plugin()])
    application.state.http_transport = httpx.MockTransport(vendor)
    try:
        yield application
    finally:
        await close_app(application)


# -- the catalogue ------------------------------------------------------------------------


async def test_the_list_shows_every_app_with_its_arguments_as_json_schema(
    api: Api, client: httpx.AsyncClient
) -> None:
    headers = await owner(api)
    response = await client.get(APPS, headers=headers)
    assert response.status_code == 200
    items = {item["key"]: item for item in response.json()["items"]}
    keys = [item["key"] for item in response.json()["items"]]
    assert keys == sorted(keys)
    assert {"vendor", "untested", "public", "formatter", "http"} <= set(items)

    listed = items["vendor"]
    assert listed == {**Vendor().to_dict(), "can_test_connection": True}
    assert [a["key"] for a in listed["actions"]] == ["whoami"]
    assert listed["dynamic_data"] == [{"key": "pipelines", "name": "Pipelines", "description": ""}]
    fields = listed["auth"]["fields"]
    jsonschema.Draft202012Validator.check_schema(fields)
    assert fields["required"] == ["api_key"]
    assert fields["properties"]["api_key"]["writeOnly"] is True
    for action in listed["actions"]:
        jsonschema.Draft202012Validator.check_schema(action["arguments"])
    assert items["untested"]["can_test_connection"] is False
    assert items["formatter"]["auth"] is None
    trigger = items["webhook"]["triggers"][0]
    assert trigger["key"] == "catch-hook"
    jsonschema.Draft202012Validator.check_schema(trigger["arguments"])


async def test_the_detail_is_one_app_and_an_unknown_key_a_404(
    api: Api, client: httpx.AsyncClient
) -> None:
    headers = await owner(api)
    detail = await client.get(f"{APPS}/vendor", headers=headers)
    assert detail.status_code == 200
    assert detail.json() == {**Vendor().to_dict(), "can_test_connection": True}
    missing = assert_problem(await client.get(f"{APPS}/vendr", headers=headers), 404, "not-found")
    assert "did you mean 'vendor'" in missing["detail"]


async def test_the_catalogue_needs_a_token(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get(APPS), 401, "unauthorized")
    assert_problem(await client.get(f"{APPS}/vendor"), 401, "unauthorized")
    assert_problem(await client.get(PIPELINES), 401, "unauthorized")


# -- dynamic data -------------------------------------------------------------------------


async def test_dynamic_data_runs_with_the_connection_and_the_query_as_parameters(
    api: Api, client: httpx.AsyncClient
) -> None:
    headers = await owner(api)
    created = await create(client, headers, "main")
    for ref in (created["id"], "main"):
        response = await client.get(
            PIPELINES, params={"connection_id": ref, "object_type": "deals"}, headers=headers
        )
        assert response.status_code == 200, response.text
        assert response.json() == {"options": [{"value": "deals-1", "label": "deals pipeline"}]}


async def test_an_app_without_auth_needs_no_connection(api: Api, client: httpx.AsyncClient) -> None:
    headers = await owner(api)
    response = await client.get(
        f"{APPS}/public/dynamic-data/colours", params={"shade": "dark"}, headers=headers
    )
    assert response.status_code == 200
    assert response.json()["options"] == [
        {"value": "dark-red", "label": "Red"},
        {"value": "blue", "label": "blue"},
    ]


async def test_members_may_read_dynamic_data(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    created = await create(client, await owner(api), "main")
    add_user(app, org_of(app, created["id"]), "member@acme.example", Role.MEMBER)
    member = bearer((await api.login("member@acme.example"))["access_token"])
    response = await client.get(PIPELINES, params={"connection_id": "main"}, headers=member)
    assert response.json() == {"options": [{"value": "none-1", "label": "none pipeline"}]}


async def test_a_vendor_refusal_is_a_502_upstream_error_without_the_credentials(
    api: Api, client: httpx.AsyncClient
) -> None:
    headers = await owner(api)
    await create(client, headers, "wrong", {"api_key": "sk-wrong-0123456789"})
    response = await client.get(
        PIPELINES, params={"connection_id": "wrong", "object_type": "deals"}, headers=headers
    )
    body = assert_problem(response, 502, "upstream-error")
    assert body["detail"] == (
        "vendor / pipelines: the vendor answered HTTP 401 to GET "
        "https://vendor.test/pipelines: invalid API key"
    )
    assert "sk-wrong" not in response.text


async def test_an_unreachable_vendor_is_a_502_too(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    app.state.http_transport = httpx.MockTransport(refuse)
    headers = await owner(api)
    await create(client, headers, "main")
    response = await client.get(PIPELINES, params={"connection_id": "main"}, headers=headers)
    body = assert_problem(response, 502, "upstream-error")
    assert "could not be reached (ConnectError)" in body["detail"]


@pytest.mark.parametrize(
    ("path", "params", "says"),
    [
        (f"{APPS}/nope/dynamic-data/pipelines", {"connection_id": "main"}, "unknown app 'nope'"),
        (f"{APPS}/vendor/dynamic-data/stages", {"connection_id": "main"}, "it has: pipelines"),
        (PIPELINES, {"connection_id": "absent"}, "no vendor connection 'absent'"),
        (PIPELINES, {"connection_id": "basic"}, "no vendor connection 'basic'"),  # another app's
    ],
)
async def test_unknown_apps_sources_and_connections_are_404(
    api: Api, client: httpx.AsyncClient, path: str, params: dict[str, str], says: str
) -> None:
    headers = await owner(api)
    await create(client, headers, "main")
    await create(client, headers, "basic", {"username": "ana", "password": "pw-123456"}, "untested")
    body = assert_problem(await client.get(path, params=params, headers=headers), 404, "not-found")
    assert says in body["detail"]


async def test_another_organizations_connection_is_404_by_id_and_by_name(
    api: Api, client: httpx.AsyncClient
) -> None:
    theirs_headers = await owner(api)
    theirs = await create(client, theirs_headers, "main")
    globex = await owner(api, "bob@globex.example", "Globex")
    for ref in (theirs["id"], "main"):
        response = await client.get(PIPELINES, params={"connection_id": ref}, headers=globex)
        assert_problem(response, 404, "not-found")
    ours = await client.get(PIPELINES, params={"connection_id": "main"}, headers=theirs_headers)
    assert ours.status_code == 200  # the same reference works for its own organization


async def test_an_app_with_auth_needs_a_connection_id(api: Api, client: httpx.AsyncClient) -> None:
    response = await client.get(PIPELINES, headers=await owner(api))
    body = assert_problem(response, 422, "validation-error")
    errors: list[dict[str, Any]] = body["errors"]
    assert [(e["location"], e["field"], e["code"]) for e in errors] == [
        ("query", "connection_id", "missing")
    ]
