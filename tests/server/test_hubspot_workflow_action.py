"""POST /api/v1/hubspot/workflow-action: HubSpot's custom workflow action runs a DocG workflow —
signed (v2) requests only, one tenant's workflow by its secret URL and portal, answered with
output fields at once or blocked and completed later through HubSpot's callback API."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from typing import Any

import httpx
import pytest
from fakes.hubspot import CLIENT_SECRET, PORTAL_ID, PRIVATE_APP_TOKEN, FakeHubSpot, seed_deal
from fastapi import FastAPI
from pydantic import SecretStr
from server.apikit import Api, assert_problem, use_plugins
from server.test_workflows import WORKFLOWS, create, owner_headers
from support.docx_builders import build, text

import docg_documents
import docg_hubspot
from docg_server.config import Settings

ACTION = "/api/v1/hubspot/workflow-action"
ACTION_URL = f"http://testserver{ACTION}"
OTHER_TOKEN = "pat-na1-other-portal"
OTHER_PORTAL = 99001


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"HUBSPOT_CLIENT_SECRET": SecretStr(CLIENT_SECRET)})


class Portals:
    """The fake HubSpot, plus ``GET /account-info/v3/details`` (which portal a token is of)."""

    def __init__(self, fake: FakeHubSpot) -> None:
        self.fake = fake
        self.portal_of = {PRIVATE_APP_TOKEN: PORTAL_ID, OTHER_TOKEN: OTHER_PORTAL}
        fake.access_tokens[OTHER_TOKEN] = True

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/account-info/v3/details":
            token = request.headers.get("authorization", "").removeprefix("Bearer ")
            if token not in self.portal_of:
                return httpx.Response(401, json={"status": "error", "message": "bad token"})
            return httpx.Response(200, json={"portalId": self.portal_of[token], "timeZone": "UTC"})
        return self.fake(request)


def sign(body: bytes, *, secret: str = CLIENT_SECRET, url: str = ACTION_URL) -> dict[str, str]:
    """Headers as HubSpot sends them: hex SHA-256 of secret + method + URI + body (v2)."""
    digest = hashlib.sha256(secret.encode() + b"POST" + url.encode() + body).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-HubSpot-Signature": digest,
        "X-HubSpot-Signature-Version": "v2",
    }


def action_body(
    webhook_url: str, object_id: str, *, portal: int = PORTAL_ID, callback: str | None = None
) -> bytes:
    """A custom action execution request, as HubSpot documents it."""
    return json.dumps(
        {
            "callbackId": callback or f"ap-{uuid.uuid4().hex[:12]}",
            "origin": {
                "portalId": portal,
                "actionDefinitionId": 1234,
                "actionDefinitionVersion": 1,
            },
            "context": {"source": "WORKFLOWS", "workflowId": 777},
            "object": {"objectId": int(object_id), "objectType": "DEAL"},
            "inputFields": {"webhook_url": webhook_url, "note": "from HubSpot"},
        }
    ).encode()


class Tenant:
    def __init__(self, headers: Any, org_id: str) -> None:
        self.headers, self.org_id = headers, org_id


async def tenant(
    api: Api, client: httpx.AsyncClient, email: str, org: str, token: str = PRIVATE_APP_TOKEN
) -> Tenant:
    headers = await owner_headers(api, email, org)
    org_id = (await client.get("/api/v1/organizations/me", headers=headers)).json()["id"]
    response = await client.post(
        "/api/v1/connections",
        json={
            "app_key": "hubspot",
            "name": "hubspot-main",
            "credentials": {"private_app_token": token},
        },
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return Tenant(headers, org_id)


def deal_node() -> dict[str, Any]:
    return {
        "id": "deal",
        "app": "hubspot",
        "action": "get-object",
        "connection": "hubspot-main",
        "parameters": {"object_type": "deals", "object_id": "{{trigger.object_id}}"},
    }


async def active_workflow(
    client: httpx.AsyncClient, who: Tenant, nodes: list[dict[str, Any]], **trigger: Any
) -> dict[str, Any]:
    document = {
        "name": "Contract from HubSpot",
        "trigger": trigger or {"app": "webhook", "key": "catch-hook"},
        "nodes": nodes,
    }
    workflow = await create(client, who.headers, document)
    response = await client.post(f"{WORKFLOWS}/{workflow['id']}/activate", headers=who.headers)
    assert response.status_code == 200, response.text
    return workflow


class World:
    def __init__(self, app: FastAPI) -> None:
        use_plugins(app, docg_hubspot, docg_documents)
        self.fake = FakeHubSpot()
        self.ids = seed_deal(self.fake)
        app.state.runtime.engine.http_transport = httpx.MockTransport(Portals(self.fake))


async def document_workflow(app: FastAPI, client: httpx.AsyncClient, who: Tenant) -> dict[str, Any]:
    key = f"docg/{who.org_id}/templates/contract.docx"
    await app.state.storage.put(key, build(text("Contract {{ deal.properties.dealname }}")))
    generate = {
        "id": "contract",
        "app": "documents",
        "action": "generate-document",
        "parameters": {"template": key, "data": {"deal": "{{step.deal}}"}, "formats": ["docx"]},
    }
    return await active_workflow(client, who, [deal_node(), generate])


async def runs_of(client: httpx.AsyncClient, who: Tenant, workflow: dict[str, Any]) -> list[Any]:
    response = await client.get(f"{WORKFLOWS}/{workflow['id']}/runs", headers=who.headers)
    items: list[Any] = response.json()["items"]
    return items


async def test_a_short_run_answers_its_output_fields(
    api: Api, client: httpx.AsyncClient, app: FastAPI
) -> None:
    world = World(app)
    ana = await tenant(api, client, "ana@acme.example", "Acme")
    workflow = await document_workflow(app, client, ana)
    body = action_body(workflow["webhook_url"], world.ids["deal"])
    response = await client.post(ACTION, content=body, headers=sign(body))
    assert response.status_code == 200, response.text
    outputs = response.json()["outputFields"]
    assert outputs["hs_execution_state"] == "SUCCESS"
    assert outputs["status"] == "completed"
    assert outputs["document_url"].startswith("http")
    run = (
        await client.get(
            f"{WORKFLOWS}/{workflow['id']}/runs/{outputs['execution_id']}", headers=ana.headers
        )
    ).json()
    assert run["trigger_data"]["object_id"] == world.ids["deal"]
    assert run["trigger_data"]["object_type"] == "deals"
    assert run["trigger_data"]["input_fields"] == {"note": "from HubSpot"}  # no webhook URL
    assert run["steps"][1]["data_out"]["data"]["document_id"] == outputs["document_id"]
    assert world.fake.completed_callbacks == []


async def test_a_failed_short_run_lets_the_hubspot_workflow_continue_with_the_error(
    api: Api, client: httpx.AsyncClient, app: FastAPI
) -> None:
    World(app)
    ana = await tenant(api, client, "ana@acme.example", "Acme")
    workflow = await active_workflow(client, ana, [deal_node()])
    body = action_body(workflow["webhook_url"], "424242")  # no such deal
    response = await client.post(ACTION, content=body, headers=sign(body))
    outputs = response.json()["outputFields"]
    assert outputs["hs_execution_state"] == "FAIL_CONTINUE"
    assert outputs["status"] == "failed" and "424242" in outputs["error"]


async def test_a_long_run_blocks_and_is_completed_through_the_callback_api(
    api: Api, client: httpx.AsyncClient, app: FastAPI
) -> None:
    world = World(app)
    ana = await tenant(api, client, "ana@acme.example", "Acme")
    approval = {
        "id": "ok",
        "app": "approval",
        "action": "request-approval",
        "parameters": {"title": "Contract {{step.deal.properties.dealname}}"},
    }
    workflow = await active_workflow(client, ana, [deal_node(), approval])
    body = action_body(workflow["webhook_url"], world.ids["deal"], callback="cb-long-1")
    response = await client.post(ACTION, content=body, headers=sign(body))
    assert response.status_code == 200, response.text
    assert response.json() == {
        "outputFields": {"hs_execution_state": "BLOCK", "hs_expiration_duration": "P7D"}
    }
    assert world.fake.completed_callbacks == []
    [run] = await runs_of(client, ana, workflow)
    detail = (
        await client.get(f"{WORKFLOWS}/{workflow['id']}/runs/{run['id']}", headers=ana.headers)
    ).json()
    approve = httpx.URL(detail["approval_url"]).path + "/approve"
    assert (await client.post(approve, json={"name": "Boss"})).status_code == 200
    final = await app.state.runtime.runner.wait(run["id"], timeout=10)
    assert final.status == "completed"
    for _ in range(100):
        if world.fake.completed_callbacks:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.1)  # every watcher has had its turn: still one completion
    [completion] = world.fake.completed_callbacks
    assert completion["callbackId"] == "cb-long-1"
    assert completion["outputFields"]["hs_execution_state"] == "SUCCESS"
    assert completion["outputFields"]["execution_id"] == run["id"]
    [sent] = world.fake.requests_to("POST", "/automation/v4/actions/callbacks/cb-long-1/complete")
    assert sent.headers["authorization"] == f"Bearer {PRIVATE_APP_TOKEN}"


async def test_a_redelivered_request_starts_no_second_run(
    api: Api, client: httpx.AsyncClient, app: FastAPI
) -> None:
    world = World(app)
    ana = await tenant(api, client, "ana@acme.example", "Acme")
    workflow = await active_workflow(client, ana, [deal_node()])
    body = action_body(workflow["webhook_url"], world.ids["deal"], callback="cb-same")
    first = await client.post(ACTION, content=body, headers=sign(body))
    second = await client.post(ACTION, content=body, headers=sign(body))
    assert first.json() == second.json()
    assert len(await runs_of(client, ana, workflow)) == 1


@pytest.mark.parametrize(
    "forge",
    ["wrong secret", "no signature", "tampered body", "another URL", "v1 signature"],
)
async def test_a_forged_request_is_refused_and_starts_nothing(
    api: Api, client: httpx.AsyncClient, app: FastAPI, forge: str
) -> None:
    world = World(app)
    ana = await tenant(api, client, "ana@acme.example", "Acme")
    workflow = await active_workflow(client, ana, [deal_node()])
    body = action_body(workflow["webhook_url"], world.ids["deal"])
    headers = sign(body)
    if forge == "wrong secret":
        headers = sign(body, secret="not-the-client-secret")
    elif forge == "no signature":
        del headers["X-HubSpot-Signature"]
    elif forge == "tampered body":
        body = body.replace(b"DEAL", b"CONTACT")
    elif forge == "another URL":
        headers = sign(body, url="https://elsewhere.example/api/v1/hubspot/workflow-action")
    else:
        headers["X-HubSpot-Signature-Version"] = "v1"
    response = await client.post(ACTION, content=body, headers=headers)
    assert_problem(response, 401, "invalid-signature")
    assert await runs_of(client, ana, workflow) == []


async def test_without_a_client_secret_no_request_is_accepted(
    api: Api, client: httpx.AsyncClient, app: FastAPI
) -> None:
    world = World(app)
    ana = await tenant(api, client, "ana@acme.example", "Acme")
    workflow = await active_workflow(client, ana, [deal_node()])
    app.state.settings = app.state.settings.model_copy(update={"HUBSPOT_CLIENT_SECRET": None})
    body = action_body(workflow["webhook_url"], world.ids["deal"])
    problem = assert_problem(
        await client.post(ACTION, content=body, headers=sign(body)), 401, "invalid-signature"
    )
    assert CLIENT_SECRET not in json.dumps(problem)


async def test_a_tenant_can_never_start_another_tenants_workflow(
    api: Api, client: httpx.AsyncClient, app: FastAPI
) -> None:
    world = World(app)
    ana = await tenant(api, client, "ana@acme.example", "Acme")
    rui = await tenant(api, client, "rui@other.example", "Other", token=OTHER_TOKEN)
    anas = await active_workflow(client, ana, [deal_node()])
    deal = world.ids["deal"]
    # Rui's portal, with Ana's secret URL: the URL is hers, the portal is not.
    body = action_body(anas["webhook_url"], deal, portal=OTHER_PORTAL)
    assert_problem(await client.post(ACTION, content=body, headers=sign(body)), 403, "forbidden")
    # Ana's workflow id with a guessed token, or an unknown workflow: the same 404.
    guessed = anas["webhook_url"].rsplit("/", 1)[0] + "/" + "x" * 43
    for url in (guessed, f"http://testserver/api/v1/webhooks/{uuid.uuid4()}/{'y' * 43}"):
        body = action_body(url, deal, portal=OTHER_PORTAL)
        assert_problem(
            await client.post(ACTION, content=body, headers=sign(body)), 404, "not-found"
        )
    assert await runs_of(client, ana, anas) == []
    # Rui's own workflow runs with his connection, for his portal only.
    ruis = await active_workflow(client, rui, [deal_node()])
    body = action_body(ruis["webhook_url"], deal, portal=OTHER_PORTAL)
    response = await client.post(ACTION, content=body, headers=sign(body))
    assert response.json()["outputFields"]["status"] == "completed"
    assert len(await runs_of(client, rui, ruis)) == 1


async def test_a_workflow_whose_hubspot_connection_is_another_tenants_is_refused(
    api: Api, client: httpx.AsyncClient, app: FastAPI
) -> None:
    world = World(app)
    await tenant(api, client, "ana@acme.example", "Acme")  # owns "hubspot-main"
    headers = await owner_headers(api, "rui@other.example", "Other")  # has no connection
    rui = Tenant(headers, "")
    workflow = await active_workflow(client, rui, [deal_node()])
    body = action_body(workflow["webhook_url"], world.ids["deal"])
    response = await client.post(ACTION, content=body, headers=sign(body))
    assert_problem(response, 422, "no-hubspot-connection")
    assert await runs_of(client, rui, workflow) == []


@pytest.mark.parametrize(
    ("case", "status", "slug"),
    [
        ("not json", 422, "invalid-body"),
        ("no callback", 422, "invalid-body"),
        ("no webhook url", 422, "validation-error"),
        ("paused", 409, "workflow-not-active"),
        ("schedule trigger", 422, "unsupported-trigger"),
    ],
)
async def test_requests_that_cannot_run_are_clear_problems(
    api: Api, client: httpx.AsyncClient, app: FastAPI, case: str, status: int, slug: str
) -> None:
    world = World(app)
    ana = await tenant(api, client, "ana@acme.example", "Acme")
    trigger = (
        {"app": "schedule", "key": "cron", "parameters": {"cron": "0 9 * * 1"}}
        if case == "schedule trigger"
        else {}
    )
    workflow = await active_workflow(client, ana, [deal_node()], **trigger)
    body = action_body(workflow["webhook_url"], world.ids["deal"])
    if case == "not json":
        body = b"{nope"
    elif case == "no callback":
        body = json.dumps({"object": {"objectId": 1}}).encode()
    elif case == "no webhook url":
        body = body.replace(b'"webhook_url"', b'"other"')
    elif case == "paused":
        await client.post(f"{WORKFLOWS}/{workflow['id']}/pause", headers=ana.headers)
    response = await client.post(ACTION, content=body, headers=sign(body))
    assert_problem(response, status, slug)
    assert await runs_of(client, ana, workflow) == []
