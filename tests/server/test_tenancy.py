"""Tenancy walk: every route of the application, called by organization B with organization
A's ids, answers 404 and shows nothing of A — on SQLite and PostgreSQL.

Routes are enumerated from ``app.routes``, so a new route is covered (or refused) without
anyone remembering this file:

- a path parameter naming a tenant's resource (:data:`TENANT_IDS`) is filled with A's id;
  routes with two such ids are also tried with B's parent and A's child, so a run of A is
  never reachable through B's own workflow. Every such call must answer 404 ``not-found``;
- a query parameter naming a tenant's resource (:data:`QUERY_IDS`) is filled with A's id (or
  A's connection name): 404, or a list with no items;
- routes that cannot name another organization's resource are listed, with why, in
  :data:`OWN_ORGANIZATION` and :data:`PUBLIC`; anything else fails the test until it is mapped.

Every answer to B must be free of A's identifiers (ids, keys, tokens, names, emails) other
than those B sent, and A's resources must read the same afterwards. Every request also
carries headers naming A's organization, which must change nothing (ARCHITECTURE §13).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from pydantic import SecretStr
from server import workflow_docs as docs
from server.apikit import Api, assert_problem
from server.test_connections import VendorPlugin, vendor
from server.test_documents import execution_of, generate
from server.test_organizations import add_user
from server.test_templates import signed_in, uploaded, use_local_storage

from docg_core.plugins import get_registry
from docg_core.storage import LocalStorage
from docg_server.app import close_app, create_app
from docg_server.config import Settings
from docg_server.documents import record_documents
from docg_server.models import Organization, Role

API = "/api/v1"
Operation = tuple[str, str]  # (method, path template)

TENANT_IDS = frozenset(
    {
        "workflow_id",
        "run_id",
        "connection_id",
        "template_id",
        "document_id",
        "user_id",
        "invitation_id",
    }
)
"""Path parameters that name one organization's resource: filled with A's, answer 404."""

SCOPED_NAMES = frozenset({"node_id"})
"""Names that are unique only inside a tenant's resource (a node inside its workflow)."""

QUERY_IDS = {
    "connection_id": "connection_id",
    "workflow_id": "workflow_id",
    "execution_id": "run_id",
}
"""Query parameter → the kind of A's id it is filled with."""

OAUTH = (f"{API}/google-oauth", f"{API}/microsoft/oauth", f"{API}/hubspot-oauth")

OWN_ORGANIZATION: dict[Operation, dict[str, str]] = {
    # The caller's own organization, its users and invitations: there is no id to name another.
    ("GET", f"{API}/organizations/me"): {},
    ("PUT", f"{API}/organizations/me"): {},
    ("GET", f"{API}/organizations/me/users"): {},
    ("GET", f"{API}/organizations/me/invitations"): {},
    ("POST", f"{API}/organizations/me/invitations"): {},
    # Lists and creates, always within the caller's organization (filters are QUERY_IDS).
    ("GET", f"{API}/workflows"): {},
    ("POST", f"{API}/workflows"): {},
    ("GET", f"{API}/connections"): {},
    ("POST", f"{API}/connections"): {},
    ("GET", f"{API}/templates"): {},
    ("GET", f"{API}/templates/available"): {},
    ("POST", f"{API}/templates"): {},
    ("POST", f"{API}/templates/register"): {},  # its body's storage_key is A's (BODIES)
    ("GET", f"{API}/documents"): {},
    # Apps are the server's, not a tenant's; the connection is a query id.
    ("GET", f"{API}/apps"): {},
    ("GET", f"{API}/apps/{{app_key}}"): {"app_key": "vendor"},
    ("GET", f"{API}/apps/{{app_key}}/dynamic-data/{{key}}"): {
        "app_key": "vendor",
        "key": "pipelines",
    },
    # OAuth flows begin for the caller's organization; billing is the caller's organization's.
    **{("GET", f"{prefix}/authorize"): {} for prefix in OAUTH},
    ("GET", f"{API}/billing/subscription"): {},
    ("POST", f"{API}/checkout/create-session"): {},
    ("POST", f"{API}/billing/portal"): {},
}
"""Routes that take no id of another organization; path values given here. Called by B,
they must not fail (500) nor show anything of A."""

BOGUS_SECRET = "bogus-secret-0123456789abcdefABCDEF"

PUBLIC: dict[Operation, tuple[dict[str, str], int | tuple[int, ...]]] = {
    # Probes and the API's own description.
    ("GET", "/healthz"): ({}, 200),
    ("GET", "/readyz"): ({}, 200),
    ("GET", f"{API}/openapi.json"): ({}, 200),
    ("GET", f"{API}/docs"): ({}, 200),
    ("GET", "/docs/oauth2-redirect"): ({}, 200),
    # Signing in: credentials in the body, never the bearer token (all wrong here).
    ("POST", f"{API}/auth/register"): ({}, 422),
    ("POST", f"{API}/auth/login"): ({}, 401),
    ("POST", f"{API}/auth/refresh"): ({}, 401),
    ("POST", f"{API}/auth/logout"): ({}, 204),
    ("POST", f"{API}/auth/accept-invitation"): ({}, 404),
    # Authorised by a secret in the URL or a vendor's signature: B's token opens nothing.
    ("POST", f"{API}/webhooks/{{workflow_id}}/{{token}}"): ({"token": BOGUS_SECRET}, 404),
    ("GET", f"{API}/approvals/{{token}}"): ({"token": BOGUS_SECRET}, 404),
    ("POST", f"{API}/approvals/{{token}}/approve"): ({"token": BOGUS_SECRET}, 404),
    ("POST", f"{API}/approvals/{{token}}/reject"): ({"token": BOGUS_SECRET}, 404),
    ("POST", f"{API}/signatures/{{provider}}/webhook"): ({"provider": "nope"}, 404),
    ("GET", f"{API}/files/{{key}}"): ({"key": "{template_key}"}, 403),
    # HubSpot's signature, then the workflow's secret webhook URL in the body (here: A's
    # workflow with a wrong token): 404 without the plugin, else 401 without a signature.
    ("POST", f"{API}/hubspot/workflow-action"): ({}, 404),
    # The provider sends the browser back with the state of a flow: a wrong one is refused.
    **{("GET", f"{prefix}/callback"): ({}, 400) for prefix in OAUTH},
    # Stripe's signature: refused, or 503 when billing is not configured.
    ("POST", f"{API}/stripe/webhook"): ({}, (400, 503)),
}
"""Routes that do not use the bearer token: path values (``{template_key}``: A's) and the
status they must answer to B with A's ids and wrong secrets."""

PUBLIC_QUERY: dict[Operation, dict[str, str]] = {
    ("GET", f"{API}/files/{{key}}"): {"expires": "9999999999", "signature": "0" * 64},
    **{("GET", f"{prefix}/callback"): {"state": BOGUS_SECRET, "code": "x"} for prefix in OAUTH},
}

BODIES: dict[Operation, Any] = {
    ("PUT", f"{API}/workflows/{{workflow_id}}"): docs.simple("Taken over"),
    ("POST", f"{API}/workflows/{{workflow_id}}/nodes"): docs.upper("added"),
    ("PUT", f"{API}/workflows/{{workflow_id}}/nodes/{{node_id}}"): docs.upper("shout", "mine"),
    ("POST", f"{API}/workflows/{{workflow_id}}/nodes/reorder"): {"order": ["shout", "ok", "after"]},
    ("POST", f"{API}/workflows/{{workflow_id}}/runs"): {"data": {"name": "x"}},
    ("POST", f"{API}/workflows/{{workflow_id}}/runs/test"): {"data": {"name": "x"}},
    ("PATCH", f"{API}/connections/{{connection_id}}"): {"name": "taken-over"},
    ("PATCH", f"{API}/organizations/me/users/{{user_id}}"): {"role": "admin"},
    ("PUT", f"{API}/organizations/me"): {"name": "Renamed by B"},
    ("POST", f"{API}/organizations/me/invitations"): {"email": "new@b.example"},
    ("POST", f"{API}/workflows"): docs.simple("B's own"),
    ("POST", f"{API}/connections"): {
        "app_key": "vendor",
        "name": "b-second",
        "credentials": {"api_key": "sk-b-0123456789"},
    },
    ("POST", f"{API}/templates/register"): {"storage_key": "{template_key}"},
    ("POST", f"{API}/auth/register"): {},
    ("POST", f"{API}/auth/login"): {"email": "ana@a.example", "password": "not the password"},
    ("POST", f"{API}/auth/refresh"): {"refresh_token": BOGUS_SECRET},
    ("POST", f"{API}/auth/logout"): {"refresh_token": BOGUS_SECRET},
    ("POST", f"{API}/auth/accept-invitation"): {
        "token": BOGUS_SECRET,
        "password": "correct horse battery",
    },
    ("POST", f"{API}/webhooks/{{workflow_id}}/{{token}}"): {"name": "x"},
    ("POST", f"{API}/approvals/{{token}}/approve"): {"name": "Eve"},
    ("POST", f"{API}/approvals/{{token}}/reject"): {"name": "Eve"},
    ("POST", f"{API}/hubspot/workflow-action"): {
        "callbackId": "1",
        "portalId": 1,
        "inputFields": {"webhook_url": f"http://testserver{API}/webhooks/{{workflow_id}}/x"},
    },
}
"""A valid body per route, so a route reaches its tenant check instead of answering 422;
``{template_key}`` and ``{workflow_id}`` are A's."""

FOREIGN_TENANT_HEADERS = ("X-Organization-Id", "X-Org-Id", "X-Tenant-Id")


@dataclass
class Org:
    """One organization with one of every resource, and what must never leak from it."""

    headers: dict[str, str]
    org_id: str
    ids: dict[str, str]
    connection_name: str
    template_key: str
    secrets: set[str] = field(default_factory=set)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The server with a test app that takes connections, a fake vendor as its network, and
    OAuth clients configured (so a callback reaches its state check)."""
    oauth = {
        f"{name}_{part}": SecretStr("s" * 32) if part == "CLIENT_SECRET" else f"{name.lower()}-id"
        for name in ("GOOGLE", "MICROSOFT", "HUBSPOT")
        for part in ("CLIENT_ID", "CLIENT_SECRET")
    }
    application = create_app(settings.model_copy(update=oauth))
    registry = get_registry(extra=[VendorPlugin()])
    application.state.registry = registry
    application.state.runtime.engine.registry = registry
    application.state.http_transport = httpx.MockTransport(vendor)
    try:
        yield application
    finally:
        await close_app(application)


@pytest.fixture
def storage(app: FastAPI, tmp_path: Path) -> LocalStorage:
    return use_local_storage(app, tmp_path)


async def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, (response.request.url, response.text)
    return response.json() if response.content else None


def unlimited(app: FastAPI, org_id: str) -> None:
    """Lift the Free plan's limits, so the organization can hold a member and an invitation."""
    with app.state.session_factory() as session:
        session.execute(
            sa.update(Organization)
            .where(Organization.id == uuid.UUID(org_id))
            .values(users_limit=None, workflows_limit=None)
        )
        session.commit()


async def build_org(
    app: FastAPI, client: httpx.AsyncClient, storage: LocalStorage, tag: str
) -> Org:
    """Register organization ``tag`` and give it one of every resource, through the API."""
    api = Api(client)
    owner_email = f"ana@{tag}.example"
    headers, org_id = await signed_in(api, owner_email, f"Org {tag} {uuid.uuid4().hex[:8]}")
    unlimited(app, org_id)
    add_user(app, org_id, f"member@{tag}.example", Role.MEMBER)
    users = await _ok(await client.get(f"{API}/organizations/me/users", headers=headers))
    member = next(u for u in users["items"] if u["email"] == f"member@{tag}.example")

    workflow = await _ok(
        await client.post(f"{API}/workflows", json=docs.approval(), headers=headers), 201
    )
    await _ok(await client.post(f"{API}/workflows/{workflow['id']}/activate", headers=headers))
    run = await _ok(
        await client.post(
            f"{API}/workflows/{workflow['id']}/runs",
            json={"data": {"name": tag}},
            params={"wait": 10},
            headers=headers,
        ),
        202,
    )
    assert run["status"] == "waiting", run
    approval_token = run["approval_url"].rsplit("/", 1)[-1]

    connection_name = f"vendor-{tag}"
    connection = await _ok(
        await client.post(
            f"{API}/connections",
            json={
                "app_key": "vendor",
                "name": connection_name,
                "credentials": {"api_key": f"sk-{tag}-secret-0123456789"},
            },
            headers=headers,
        ),
        201,
    )
    template = await uploaded(client, headers, name=f"Contract {tag}")
    step = await generate(storage, org_id, template["storage_key"], run["id"])
    await record_documents(app.state.session_factory, execution_of(org_id, step, ident=run["id"]))
    documents = await _ok(await client.get(f"{API}/documents", headers=headers))
    [document] = documents["items"]
    invitation = await _ok(
        await client.post(
            f"{API}/organizations/me/invitations",
            json={"email": f"invited@{tag}.example"},
            headers=headers,
        ),
        201,
    )
    ids = {
        "workflow_id": workflow["id"],
        "run_id": run["id"],
        "node_id": "shout",
        "connection_id": connection["id"],
        "template_id": template["id"],
        "document_id": document["id"],
        "user_id": member["id"],
        "invitation_id": invitation["id"],
    }
    webhook_token = workflow["webhook_url"].rsplit("/", 1)[-1]
    me = await _ok(await client.get(f"{API}/organizations/me", headers=headers))
    secrets = {
        org_id,
        me["name"],
        owner_email,
        f"member@{tag}.example",
        f"invited@{tag}.example",
        connection_name,
        template["storage_key"],
        document["file_key"],
        webhook_token,
        approval_token,
        *(value for key, value in ids.items() if key in TENANT_IDS),
    }
    return Org(headers, org_id, ids, connection_name, template["storage_key"], secrets)


def snapshot_paths(org: Org) -> list[str]:
    """What A reads of its own resources, before and after B's walk."""
    ids = org.ids
    workflow = f"{API}/workflows/{ids['workflow_id']}"
    return [
        f"{API}/organizations/me",
        f"{API}/organizations/me/users",
        f"{API}/organizations/me/invitations",
        workflow,
        f"{workflow}/nodes",
        f"{workflow}/runs",
        f"{workflow}/runs/{ids['run_id']}",
        f"{API}/connections/{ids['connection_id']}",
        f"{API}/templates/{ids['template_id']}",
        f"{API}/documents/{ids['document_id']}",
    ]


async def snapshot(client: httpx.AsyncClient, org: Org) -> dict[str, Any]:
    return {
        path: await _ok(await client.get(path, headers=org.headers)) for path in snapshot_paths(org)
    }


def operations(app: FastAPI) -> Iterator[tuple[RouteContext, str]]:
    """Every (route, method) the application answers, HEAD aside, included routers flattened."""
    for route in iter_route_contexts(app.routes):
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                yield route, method


def path_params(route: RouteContext) -> list[str]:
    return list(route.param_convertors)


def fill(template: str, values: dict[str, str]) -> str:
    """The route's path with its parameters (``{name}`` or ``{name:path}``) replaced."""
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values[m.group(1)], template)


def has_body(route: RouteContext) -> bool:
    original = route.original_route
    return isinstance(original, APIRoute) and original.body_field is not None


def query_names(route: RouteContext) -> list[str]:
    original = route.original_route
    if not isinstance(original, APIRoute):
        return []
    return [param.alias for param in original.dependant.query_params]


@dataclass
class Call:
    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    body: Any = None


def body_for(operation: Operation, a: Org) -> Any:
    body = BODIES.get(operation)
    if body is None:
        return None
    text = json.dumps(body).replace("{template_key}", a.template_key)
    return json.loads(text.replace("{workflow_id}", a.ids["workflow_id"]))


def tenant_calls(route: RouteContext, method: str, a: Org, b: Org) -> list[Call]:
    """A's ids in every tenant path parameter; then each tenant id alone A's, the rest B's."""
    names = path_params(route)
    operation = (method, route.path_format)
    body = body_for(operation, a)
    calls = [Call(method, fill(route.path, a.ids), body=body)]
    tenant = [name for name in names if name in TENANT_IDS]
    if len(tenant) > 1:
        for name in tenant:
            mixed = {**b.ids, name: a.ids[name]}
            calls.append(Call(method, fill(route.path, mixed), body=body))
    return calls


def leaked(response: httpx.Response, call: Call, a: Org) -> set[str]:
    """A's secrets in the answer that B did not send itself."""
    sent = call.path + json.dumps(call.params) + json.dumps(call.body)
    return {secret for secret in a.secrets if secret in response.text and secret not in sent}


async def send(client: httpx.AsyncClient, call: Call, b: Org, a: Org) -> httpx.Response:
    headers = {**b.headers, **dict.fromkeys(FOREIGN_TENANT_HEADERS, a.org_id)}
    kwargs: dict[str, Any] = {"headers": headers, "params": call.params}
    if call.body is not None:
        kwargs["json"] = call.body
    return await client.request(call.method, call.path, **kwargs)


async def test_no_route_lets_one_organization_reach_anothers_resources(
    app: FastAPI, client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    a = await build_org(app, client, storage, "a")
    b = await build_org(app, client, storage, "b")
    before = await snapshot(client, a)
    failures: list[str] = []
    walked: set[Operation] = set()

    def fail(call: Call, response: httpx.Response | None, why: str) -> None:
        status = response.status_code if response is not None else "-"
        text = response.text[:300] if response is not None else ""
        failures.append(f"{call.method} {call.path} {call.params or ''} → {status}: {why} {text}")

    for route, method in operations(app):
        operation = (method, route.path_format)
        walked.add(operation)
        names = path_params(route)
        unmapped = [n for n in names if n not in TENANT_IDS | SCOPED_NAMES]
        if operation in PUBLIC:
            values, expected = PUBLIC[operation]
            values = {k: v.replace("{template_key}", a.template_key) for k, v in values.items()}
            call = Call(
                method,
                fill(route.path, {**a.ids, **values}),
                PUBLIC_QUERY.get(operation, {}),
                body_for(operation, a),
            )
            response = await send(client, call, b, a)
            if response.status_code not in (
                expected if isinstance(expected, tuple) else (expected,)
            ):
                fail(call, response, f"expected {expected}")
            elif leaked(response, call, a):
                fail(call, response, f"shows A's {leaked(response, call, a)}")
            continue
        if operation in OWN_ORGANIZATION:
            call = Call(method, fill(route.path, OWN_ORGANIZATION[operation]))
            call.body = body_for(operation, a)
            if call.body is None and has_body(route):
                call.body = {}
            response = await send(client, call, b, a)
            if response.status_code == 500:  # 503: a feature not configured here (billing)
                fail(call, response, "server error")
            elif found := leaked(response, call, a):
                fail(call, response, f"shows A's {found}")
            for name in query_names(route):
                if name not in QUERY_IDS:
                    continue
                values = [a.ids[QUERY_IDS[name]]]
                if name == "connection_id":
                    values.append(a.connection_name)  # connections are also named by name
                for value in values:
                    query = Call(method, call.path, {name: value}, call.body)
                    response = await send(client, query, b, a)
                    empty_list = response.status_code == 200 and response.json().get("items") == []
                    if response.status_code != 404 and not empty_list:
                        fail(query, response, "expected 404 or an empty list")
                    elif found := leaked(response, query, a):
                        fail(query, response, f"shows A's {found}")
            continue
        if unmapped or not any(n in TENANT_IDS for n in names):
            failures.append(
                f"{method} {route.path_format}: map it — a tenant id in TENANT_IDS, or an entry in "
                f"OWN_ORGANIZATION or PUBLIC saying why it cannot name another organization"
            )
            continue
        for call in tenant_calls(route, method, a, b):
            if call.body is None and has_body(route):
                call.body = {}
            response = await send(client, call, b, a)
            if response.status_code == 422 and operation not in BODIES:
                fail(call, response, "add a valid body to BODIES so the tenant check is reached")
                continue
            if response.status_code != 404:
                fail(call, response, "expected 404")
                continue
            assert_problem(response, 404, "not-found")
            if found := leaked(response, call, a):
                fail(call, response, f"shows A's {found}")

    stale = set(OWN_ORGANIZATION) | set(PUBLIC)
    assert not stale - walked, f"allowlisted routes that no longer exist: {stale - walked}"
    assert not failures, "\n".join(failures)
    assert await snapshot(client, a) == before, "B's calls changed A's resources"


async def test_b_sees_none_of_as_resources_in_its_own_lists(
    app: FastAPI, client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    a = await build_org(app, client, storage, "a")
    b = await build_org(app, client, storage, "b")
    lists = {
        f"{API}/workflows": "workflow_id",
        f"{API}/workflows/{b.ids['workflow_id']}/runs": "run_id",
        f"{API}/connections": "connection_id",
        f"{API}/templates": "template_id",
        f"{API}/documents": "document_id",
        f"{API}/organizations/me/users": "user_id",
        f"{API}/organizations/me/invitations": "invitation_id",
    }
    for path, kind in lists.items():
        items = (await _ok(await client.get(path, headers=b.headers)))["items"]
        listed = {item["id"] for item in items}
        assert b.ids[kind] in listed, path
        assert a.ids[kind] not in listed, path
    available = await _ok(await client.get(f"{API}/templates/available", headers=b.headers))
    assert a.template_key not in json.dumps(available)
