"""/api/v1/connections: credentials validated and encrypted, never returned; the connection
test; roles and tenancy; and DatabaseConnections, the engine's tenant-scoped provider."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from server.apikit import Api, assert_problem, bearer
from server.test_organizations import add_user

from docg_core import hookimpl
from docg_core.apps import (
    ActionArgument,
    ActionResult,
    ArgumentType,
    AuthSpec,
    BaseAction,
    BaseApp,
    BaseDynamicData,
    DropdownOption,
)
from docg_core.context import ExecutionContext
from docg_core.engine import Engine
from docg_core.errors import StepError
from docg_core.plugins import get_registry
from docg_core.workflow import load_workflow
from docg_server.app import close_app, create_app
from docg_server.config import Settings
from docg_server.connections import DatabaseConnections
from docg_server.crypto import KeyRing, generate_key
from docg_server.models import DataSourceConnection, Role, Workflow

CONNECTIONS = "/api/v1/connections"
GOOD_KEY = "sk-good-0123456789"
ECHOED_KEY = "sk-echoed-0123456789"  # the fake vendor repeats this key in its error


# -- a small app and its vendor -----------------------------------------------------------


def vendor(request: httpx.Request) -> httpx.Response:
    """The fake vendor: ``GET /me`` and ``GET /pipelines``, bearer API keys."""
    key = request.headers.get("Authorization", "").removeprefix("Bearer ")
    if key == "sk-down-0123456789":
        return httpx.Response(503, json={"message": "maintenance"})
    if key == ECHOED_KEY:
        return httpx.Response(401, json={"message": f"key {key} was revoked"})
    if key != GOOD_KEY:
        return httpx.Response(401, json={"message": "invalid API key"})
    if request.url.path == "/me":
        return httpx.Response(200, json={"email": "ops@acme.test"})
    if request.url.path == "/pipelines":
        kind = request.url.params.get("object_type", "none")
        return httpx.Response(200, json=[{"id": f"{kind}-1", "label": f"{kind} pipeline"}])
    return httpx.Response(404, json={"message": "no such route"})


class Pipelines(BaseDynamicData):
    key = "pipelines"
    name = "Pipelines"

    async def run(self, ctx: ExecutionContext) -> list[DropdownOption]:
        params = {k: v for k, v in ctx.step.parameters.items() if isinstance(v, str)}
        response = await ctx.http.get("/pipelines", params=params)
        response.raise_for_status()
        return [DropdownOption(p["id"], p["label"]) for p in response.json()]


class WhoAmI(BaseAction):
    key = "whoami"
    name = "Who am I"

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        response = await ctx.http.get("/me")
        response.raise_for_status()
        return ActionResult(raw=response.json(), data=response.json())


class Vendor(BaseApp):
    key = "vendor"
    name = "Vendor"
    base_url = "https://vendor.test"
    auth = AuthSpec.api_key(
        fields=(
            ActionArgument(key="api_key", label="API key", required=True, secret=True),
            ActionArgument(
                key="environment",
                label="Environment",
                type=ArgumentType.DROPDOWN,
                default="production",
                options=(DropdownOption("production"), DropdownOption("sandbox")),
            ),
            ActionArgument(key="timeout", label="Timeout", type=ArgumentType.NUMBER),
        )
    )
    actions = (WhoAmI,)
    dynamic_data = (Pipelines,)

    async def before_request(self, ctx: ExecutionContext, request: httpx.Request) -> None:
        request.headers["Authorization"] = f"Bearer {ctx.auth['api_key']}"

    async def test_connection(self, ctx: ExecutionContext) -> str:
        response = await ctx.http.get("/me")
        response.raise_for_status()
        return f"connected as {response.json()['email']}"


class Untested(BaseApp):
    key = "untested"
    name = "Untested"
    auth = AuthSpec.basic()


class Meddler(BaseApp):
    """Its connection test tries to write the credentials it was given."""

    key = "meddler"
    name = "Meddler"
    auth = AuthSpec.api_key()

    async def test_connection(self, ctx: ExecutionContext) -> str:
        ctx.auth["api_key"] = "changed"  # type: ignore[index]
        return "changed"


class VendorPlugin:
    @hookimpl
    def docg_apps(self) -> list[type[BaseApp]]:
        return [Vendor, Untested, Meddler]


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The server with the test apps installed and the fake vendor as its network."""
    application = create_app(settings)
    application.state.registry = get_registry(extra=[VendorPlugin()])
    application.state.http_transport = httpx.MockTransport(vendor)
    try:
        yield application
    finally:
        await close_app(application)


# -- helpers ------------------------------------------------------------------------------


async def owner(api: Api, email: str = "ana@acme.example", org: str = "Acme") -> Any:
    tokens = await api.signed_in(email, org)
    return bearer(tokens["access_token"])


async def create(
    client: httpx.AsyncClient,
    headers: Any,
    name: str = "vendor-main",
    credentials: Mapping[str, Any] | None = None,
    app_key: str = "vendor",
) -> dict[str, Any]:
    body = {
        "app_key": app_key,
        "name": name,
        "credentials": dict(credentials or {"api_key": GOOD_KEY}),
    }
    response = await client.post(CONNECTIONS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def stored(app: FastAPI, connection_id: str) -> DataSourceConnection:
    with app.state.session_factory() as session:
        row = session.get(DataSourceConnection, uuid.UUID(connection_id))
        assert row is not None
        return row


def org_of(app: FastAPI, connection_id: str) -> str:
    return str(stored(app, connection_id).organization_id)


# -- create, detail, list -----------------------------------------------------------------


async def test_create_stores_the_credentials_encrypted_and_answers_only_their_field_names(
    api: Api, app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    headers = await owner(api)
    response = await client.post(
        CONNECTIONS,
        json={"app_key": "vendor", "name": "  vendor-main ", "credentials": {"api_key": GOOD_KEY}},
        headers=headers,
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert GOOD_KEY not in response.text
    assert body["name"] == "vendor-main"
    assert (body["app_key"], body["status"], body["scopes"]) == ("vendor", "active", [])
    assert body["credential_fields"] == ["api_key", "environment"]  # the default filled in
    row = stored(app, body["id"])
    assert GOOD_KEY not in row.credentials
    assert row.credentials.startswith("v1.dev.")
    assert settings.keyring().decrypt_json(row.credentials, body["id"]) == {
        "api_key": GOOD_KEY,
        "environment": "production",
    }
    detail = await client.get(f"{CONNECTIONS}/{body['id']}", headers=headers)
    assert detail.status_code == 200
    assert detail.json() == body


async def test_the_list_pages_newest_first_filters_by_app_and_shows_no_secret(
    api: Api, client: httpx.AsyncClient
) -> None:
    headers = await owner(api)
    made = [await create(client, headers, f"c{i}") for i in range(3)]
    await create(client, headers, "basic", {"username": "ana", "password": "pw-123456"}, "untested")

    first = await client.get(CONNECTIONS, params={"limit": 2, "app_key": "vendor"}, headers=headers)
    assert first.status_code == 200
    page = first.json()
    assert [c["name"] for c in page["items"]] == ["c2", "c1"]
    assert page["next_cursor"]
    second = await client.get(
        CONNECTIONS,
        params={"limit": 2, "app_key": "vendor", "cursor": page["next_cursor"]},
        headers=headers,
    )
    assert [c["id"] for c in second.json()["items"]] == [made[0]["id"]]
    assert second.json()["next_cursor"] is None
    everything = await client.get(CONNECTIONS, headers=headers)
    assert len(everything.json()["items"]) == 4
    assert GOOD_KEY not in everything.text and "pw-123456" not in everything.text
    bad = await client.get(CONNECTIONS, params={"cursor": "nonsense"}, headers=headers)
    assert assert_problem(bad, 422, "validation-error")["errors"][0]["field"] == "cursor"


async def test_bad_credentials_answer_422_naming_each_field_without_echoing_values(
    api: Api, client: httpx.AsyncClient
) -> None:
    headers = await owner(api)
    response = await client.post(
        CONNECTIONS,
        json={
            "app_key": "vendor",
            "name": "bad",
            "credentials": {
                "bogus": "secret-bogus-value",
                "environment": "secret-env-value",
                "timeout": "secret-timeout-value",
            },
        },
        headers=headers,
    )

    body = assert_problem(response, 422, "validation-error")
    found = {(e["field"], e["code"]) for e in body["errors"]}
    assert found == {
        ("credentials.bogus", "unknown_field"),
        ("credentials.api_key", "missing"),
        ("credentials.environment", "invalid_type"),
        ("credentials.timeout", "invalid_type"),
    }
    assert "secret-" not in response.text
    messages = {e["field"]: e["message"] for e in body["errors"]}
    assert "api_key, environment, timeout" in messages["credentials.bogus"]
    assert messages["credentials.environment"] == "must be one of: production, sandbox"
    assert (await client.get(CONNECTIONS, headers=headers)).json()["items"] == []


@pytest.mark.parametrize(("app_key", "code"), [("vendr", "unknown_app"), ("formatter", "no_auth")])
async def test_an_unknown_app_or_one_without_auth_is_a_422_on_app_key(
    api: Api, client: httpx.AsyncClient, app_key: str, code: str
) -> None:
    headers = await owner(api)
    response = await client.post(
        CONNECTIONS,
        json={"app_key": app_key, "name": "x", "credentials": {"api_key": GOOD_KEY}},
        headers=headers,
    )
    body = assert_problem(response, 422, "validation-error")
    assert [(e["field"], e["code"]) for e in body["errors"]] == [("app_key", code)]


async def test_names_are_unique_within_an_organization_only(
    api: Api, client: httpx.AsyncClient
) -> None:
    acme = await owner(api)
    await create(client, acme, "main")
    again = await client.post(
        CONNECTIONS,
        json={"app_key": "vendor", "name": "main", "credentials": {"api_key": GOOD_KEY}},
        headers=acme,
    )
    assert_problem(again, 409, "connection-name-taken")
    globex = await owner(api, "bob@globex.example", "Globex")
    assert (await create(client, globex, "main"))["name"] == "main"


# -- update and delete --------------------------------------------------------------------


async def test_update_renames_and_replaces_every_credential(
    api: Api, app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    headers = await owner(api)
    created = await create(client, headers, "main", {"api_key": GOOD_KEY, "timeout": "30"})
    await create(client, headers, "taken")
    url = f"{CONNECTIONS}/{created['id']}"

    renamed = await client.patch(url, json={"name": "primary"}, headers=headers)
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "primary"
    assert renamed.json()["credential_fields"] == ["api_key", "environment", "timeout"]

    replaced = await client.patch(
        url, json={"credentials": {"api_key": "sk-new-0123456789"}}, headers=headers
    )
    assert replaced.status_code == 200
    assert replaced.json()["credential_fields"] == ["api_key", "environment"]
    assert "sk-new" not in replaced.text
    token = stored(app, created["id"]).credentials
    assert settings.keyring().decrypt_json(token, created["id"])["api_key"] == "sk-new-0123456789"
    assert stored(app, created["id"]).credentials_version == 2  # the rename did not count

    assert_problem(
        await client.patch(url, json={"name": "taken"}, headers=headers),
        409,
        "connection-name-taken",
    )
    assert_problem(await client.patch(url, json={}, headers=headers), 422, "validation-error")
    wrong = await client.patch(url, json={"credentials": {"api_key": ""}}, headers=headers)
    body = assert_problem(wrong, 422, "validation-error")
    assert [e["field"] for e in body["errors"]] == ["credentials.api_key"]
    assert stored(app, created["id"]).credentials == token
    assert stored(app, created["id"]).name == "primary"


async def test_delete_answers_204_and_the_connection_is_gone(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await owner(api)
    created = await create(client, headers)
    url = f"{CONNECTIONS}/{created['id']}"
    response = await client.delete(url, headers=headers)
    assert response.status_code == 204
    assert response.content == b""
    assert_problem(await client.get(url, headers=headers), 404, "not-found")
    with app.state.session_factory() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(DataSourceConnection)) == 0


async def _workflow(
    client: httpx.AsyncClient, headers: Any, name: str, trigger: Any = None, **node: Any
) -> str:
    body = {
        "name": name,
        "trigger": trigger or {"app": "manual", "key": "manual"},
        "nodes": [{"id": "me", "app": "vendor", "action": "whoami", **node}],
    }
    response = await client.post("/api/v1/workflows", json=body, headers=headers)
    assert response.status_code == 201, response.text
    workflow_id: str = response.json()["id"]
    return workflow_id


async def test_deleting_a_connection_workflows_use_is_a_409_naming_them_unless_forced(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await owner(api)
    created = await create(client, headers)
    other = await create(client, headers, name="vendor-spare")
    renewals = await _workflow(client, headers, "Renewals", connection="vendor-main")
    await _workflow(client, headers, "Unrelated", connection="vendor-spare")
    await _workflow(client, headers, "No connection")
    archived = await _workflow(client, headers, "Old renewals", connection="vendor-main")
    with app.state.session_factory() as session:
        session.execute(
            sa.update(Workflow).where(Workflow.id == uuid.UUID(archived)).values(status="archived")
        )
        session.commit()
    hooked = {"app": "webhook", "key": "catch-hook", "connection": "vendor-main"}
    by_trigger = await _workflow(client, headers, "Hooked", trigger=hooked)
    url = f"{CONNECTIONS}/{created['id']}"

    refused = await client.delete(url, headers=headers)

    body = assert_problem(refused, 409, "connection-in-use")
    assert body["workflows"] == [
        {"id": by_trigger, "name": "Hooked"},
        {"id": renewals, "name": "Renewals"},
    ]
    assert (
        "2 workflow(s)" in body["detail"]
        and "'Renewals'" in body["detail"]
        and "?force=true" in body["detail"]
    )
    assert (await client.get(url, headers=headers)).status_code == 200  # still there
    forced = await client.delete(url, params={"force": "true"}, headers=headers)
    assert forced.status_code == 204
    assert_problem(await client.get(url, headers=headers), 404, "not-found")
    unused = await client.delete(f"{CONNECTIONS}/{other['id']}", headers=headers)
    assert_problem(unused, 409, "connection-in-use")  # "Unrelated" uses this one


# -- the connection test ------------------------------------------------------------------


async def test_working_credentials_test_ok_and_the_connection_stays_active(
    api: Api, client: httpx.AsyncClient
) -> None:
    headers = await owner(api)
    created = await create(client, headers)
    response = await client.post(f"{CONNECTIONS}/{created['id']}/test", headers=headers)
    assert response.status_code == 200
    assert response.json() == {
        "tested": True,
        "ok": True,
        "message": "connected as ops@acme.test",
        "status": "active",
    }


async def test_a_vendor_401_is_a_failed_result_sets_error_and_leaves_the_credentials(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await owner(api)
    created = await create(client, headers, credentials={"api_key": "sk-wrong-0123456789"})
    before = stored(app, created["id"])

    response = await client.post(f"{CONNECTIONS}/{created['id']}/test", headers=headers)

    assert response.status_code == 200
    result = response.json()
    assert (result["tested"], result["ok"], result["status"]) == (True, False, "error")
    assert result["message"] == (
        "the vendor answered HTTP 401 to GET https://vendor.test/me: invalid API key"
    )
    after = stored(app, created["id"])
    assert after.credentials == before.credentials  # never written back, not even re-encrypted
    assert after.status == "error"
    detail = await client.get(f"{CONNECTIONS}/{created['id']}", headers=headers)
    assert detail.json()["status"] == "error"
    # New credentials make it active again.
    fixed = await client.patch(
        f"{CONNECTIONS}/{created['id']}",
        json={"credentials": {"api_key": GOOD_KEY}},
        headers=headers,
    )
    assert fixed.json()["status"] == "active"


async def test_a_vendor_echoing_the_key_has_it_redacted_from_the_result(
    api: Api, client: httpx.AsyncClient
) -> None:
    headers = await owner(api)
    created = await create(client, headers, credentials={"api_key": ECHOED_KEY})
    response = await client.post(f"{CONNECTIONS}/{created['id']}/test", headers=headers)
    assert ECHOED_KEY not in response.text
    assert response.json()["message"].endswith("key [redacted] was revoked")


async def test_a_vendor_outage_fails_the_test_but_keeps_the_status(
    api: Api, client: httpx.AsyncClient
) -> None:
    headers = await owner(api)
    created = await create(client, headers, credentials={"api_key": "sk-down-0123456789"})
    response = await client.post(f"{CONNECTIONS}/{created['id']}/test", headers=headers)
    result = response.json()
    assert (result["ok"], result["status"]) == (False, "active")
    assert "HTTP 503" in result["message"]


async def test_an_app_without_a_connection_test_says_so(
    api: Api, client: httpx.AsyncClient
) -> None:
    headers = await owner(api)
    created = await create(
        client, headers, "basic", {"username": "ana", "password": "pw-123456"}, "untested"
    )
    response = await client.post(f"{CONNECTIONS}/{created['id']}/test", headers=headers)
    assert response.status_code == 200
    result = response.json()
    assert (result["tested"], result["ok"], result["status"]) == (False, None, "active")
    assert "Untested app has no connection test" in result["message"]


async def test_a_test_that_tries_to_change_the_credentials_cannot(
    api: Api, app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    headers = await owner(api)
    created = await create(client, headers, "m", {"api_key": GOOD_KEY}, "meddler")
    response = await client.post(f"{CONNECTIONS}/{created['id']}/test", headers=headers)
    assert response.json()["ok"] is False
    assert "TypeError" in response.json()["message"]
    token = stored(app, created["id"]).credentials
    assert settings.keyring().decrypt_json(token, created["id"]) == {"api_key": GOOD_KEY}


async def test_credentials_no_key_opens_are_reported_not_a_500(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await owner(api)
    created = await create(client, headers)
    lost = KeyRing.parse(generate_key("lost"))
    with app.state.session_factory() as session:
        row = session.get(DataSourceConnection, uuid.UUID(created["id"]))
        assert row is not None
        row.credentials = lost.encrypt_json({"api_key": GOOD_KEY}, created["id"])
        session.commit()

    detail = await client.get(f"{CONNECTIONS}/{created['id']}", headers=headers)
    assert detail.status_code == 200
    assert detail.json()["credential_fields"] is None
    tested = await client.post(f"{CONNECTIONS}/{created['id']}/test", headers=headers)
    assert tested.status_code == 200
    assert (tested.json()["ok"], tested.json()["status"]) == (False, "error")
    assert "cannot be decrypted" in tested.json()["message"]


# -- roles and tenancy --------------------------------------------------------------------


async def test_members_read_but_only_owners_and_admins_write(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    owner_headers = await owner(api)
    created = await create(client, owner_headers)
    add_user(app, org_of(app, created["id"]), "member@acme.example", Role.MEMBER)
    add_user(app, org_of(app, created["id"]), "admin@acme.example", Role.ADMIN)
    member = bearer((await api.login("member@acme.example"))["access_token"])
    admin = bearer((await api.login("admin@acme.example"))["access_token"])
    url = f"{CONNECTIONS}/{created['id']}"

    assert (await client.get(CONNECTIONS, headers=member)).status_code == 200
    assert (await client.get(url, headers=member)).status_code == 200
    new = {"app_key": "vendor", "name": "other", "credentials": {"api_key": GOOD_KEY}}
    for response in [
        await client.post(CONNECTIONS, json=new, headers=member),
        await client.patch(url, json={"name": "renamed"}, headers=member),
        await client.post(f"{url}/test", headers=member),
        await client.delete(url, headers=member),
    ]:
        assert_problem(response, 403, "forbidden")
    assert (await client.post(CONNECTIONS, json=new, headers=admin)).status_code == 201
    assert (await client.patch(url, json={"name": "renamed"}, headers=admin)).status_code == 200


async def test_another_organizations_connection_is_404_on_every_route(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    acme = await owner(api)
    theirs = await create(client, acme, credentials={"api_key": "sk-wrong-0123456789"})
    before = stored(app, theirs["id"])
    globex = await owner(api, "bob@globex.example", "Globex")
    url = f"{CONNECTIONS}/{theirs['id']}"

    for response in [
        await client.get(url, headers=globex),
        await client.patch(url, json={"name": "stolen"}, headers=globex),
        await client.patch(url, json={"credentials": {"api_key": GOOD_KEY}}, headers=globex),
        await client.post(f"{url}/test", headers=globex),
        await client.delete(url, headers=globex),
    ]:
        body = assert_problem(response, 404, "not-found")
        assert theirs["id"] in body["detail"]
    assert (await client.get(CONNECTIONS, headers=globex)).json()["items"] == []
    after = stored(app, theirs["id"])
    assert (after.name, after.status, after.credentials) == (
        before.name,
        before.status,
        before.credentials,
    )


async def test_every_route_needs_a_token(client: httpx.AsyncClient) -> None:
    some = f"{CONNECTIONS}/{uuid.uuid4()}"
    for response in [
        await client.get(CONNECTIONS),
        await client.post(CONNECTIONS, json={}),
        await client.get(some),
        await client.patch(some, json={"name": "x"}),
        await client.post(f"{some}/test"),
        await client.delete(some),
    ]:
        assert_problem(response, 401, "unauthorized")


# -- DatabaseConnections: the engine's provider -------------------------------------------


async def two_organizations(api: Api, client: httpx.AsyncClient) -> tuple[dict[str, Any], str]:
    """Acme's connection ``main`` and Globex's organization id."""
    acme = await owner(api)
    created = await create(client, acme, "main")
    registered = await api.register("bob@globex.example", "Globex")
    return created, registered["organization"]["id"]


async def test_the_provider_finds_a_connection_by_name_or_id_within_its_organization(
    api: Api, app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    created, _ = await two_organizations(api, client)
    org = org_of(app, created["id"])
    provider = DatabaseConnections(app.state.session_factory, settings.keyring())
    expected = {"api_key": GOOD_KEY, "environment": "production"}

    assert await provider.get_credentials("main", app_key="vendor", organization_id=org) == expected
    by_id = await provider.get_credentials(created["id"], app_key="vendor", organization_id=org)
    assert by_id == expected


async def test_the_provider_never_crosses_organizations_or_apps(
    api: Api, app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    created, globex = await two_organizations(api, client)
    org = org_of(app, created["id"])
    provider = DatabaseConnections(app.state.session_factory, settings.keyring())

    for ref in ("main", created["id"]):
        with pytest.raises(KeyError):
            await provider.get_credentials(ref, app_key="vendor", organization_id=globex)
        with pytest.raises(KeyError):
            await provider.get_credentials(ref, app_key="vendor", organization_id=None)
    with pytest.raises(KeyError):
        await provider.get_credentials("main", app_key="untested", organization_id=org)
    with pytest.raises(KeyError):
        await provider.get_credentials("main", app_key="vendor", organization_id="not-a-uuid")
    with pytest.raises(KeyError):
        await provider.get_credentials("missing", app_key="vendor", organization_id=org)


async def test_the_provider_prefers_a_name_over_an_id(
    api: Api, app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    headers = await owner(api)
    first = await create(client, headers, "first")
    # A connection whose *name* is the first one's id wins when that string is asked for.
    await create(client, headers, first["id"], {"api_key": "sk-named-0123456789"})
    provider = DatabaseConnections(app.state.session_factory, settings.keyring())
    found = await provider.get_credentials(
        first["id"], app_key="vendor", organization_id=org_of(app, first["id"])
    )
    assert found["api_key"] == "sk-named-0123456789"


async def test_the_provider_reports_credentials_no_key_opens(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    created, _ = await two_organizations(api, client)
    other = KeyRing.parse(generate_key("other"))
    provider = DatabaseConnections(app.state.session_factory, other)
    with pytest.raises(StepError, match="cannot be decrypted") as info:
        await provider.get_credentials(
            "main", app_key="vendor", organization_id=org_of(app, created["id"])
        )
    assert GOOD_KEY not in str(info.value)


async def test_an_engine_with_the_provider_runs_a_node_only_in_its_organization(
    api: Api, app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    created, globex = await two_organizations(api, client)
    engine = Engine(
        registry=app.state.registry,
        connections=DatabaseConnections(app.state.session_factory, settings.keyring()),
        http_transport=httpx.MockTransport(vendor),
    )
    flow = load_workflow(
        {
            "name": "who",
            "nodes": [{"id": "me", "app": "vendor", "action": "whoami", "connection": "main"}],
        }
    )
    ours = await engine.run(flow, {}, organization_id=org_of(app, created["id"]))
    theirs = await engine.run(flow, {}, organization_id=globex)
    assert ours.status == "completed"
    assert ours.step("me").data_out["data"] == {"email": "ops@acme.test"}
    assert theirs.status == "failed"
    assert theirs.step("me").error == "connection 'main' not found"


async def test_every_connections_and_apps_route_is_documented(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/api/v1/openapi.json")).json()
    text = (Path(__file__).parents[2] / "docs" / "server-connections.md").read_text("utf-8")
    routes = [
        (method.upper(), path.replace("{connection_id}", "{id}").replace("{app_key}", "{app}"))
        for path, item in spec["paths"].items()
        if path.startswith(("/api/v1/connections", "/api/v1/apps"))
        for method in item
    ]
    assert len(routes) == 9
    for method, path in routes:
        assert f"`{method} {path}" in text, f"{method} {path} is not in server-connections.md"
