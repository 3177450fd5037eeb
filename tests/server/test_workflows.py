"""/api/v1/workflows: CRUD, validation problems, flat storage, status, tenancy, plan limit."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from server import workflow_docs as docs
from server.apikit import Api, assert_problem, bearer
from server.test_organizations import add_user

from docg_server.models import Organization, Role, Workflow, WorkflowNode

WORKFLOWS = "/api/v1/workflows"


async def owner_headers(api: Api, email: str = "ana@acme.example", org: str = "Acme") -> Any:
    tokens = await api.signed_in(email, org)
    return bearer(tokens["access_token"])


async def create(client: httpx.AsyncClient, headers: Any, document: Any) -> dict[str, Any]:
    response = await client.post(WORKFLOWS, json=document, headers=headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def node_rows(app: FastAPI, workflow_id: str) -> dict[str, WorkflowNode]:
    with app.state.session_factory() as session:
        rows = session.scalars(
            sa.select(WorkflowNode).where(WorkflowNode.workflow_id == uuid.UUID(workflow_id))
        )
        return {row.node_id: row for row in rows}


def document_of(body: dict[str, Any]) -> dict[str, Any]:
    return {key: body[key] for key in ("name", "description", "trigger", "nodes")}


# -- create, detail, list ---------------------------------------------------------------------


async def test_create_answers_a_draft_with_its_document_and_webhook_url(
    api: Api, client: httpx.AsyncClient
) -> None:
    headers = await owner_headers(api)
    body = await create(client, headers, docs.simple())

    assert body["status"] == "draft"
    assert body["version"] == 1
    assert body["trigger_type"] == "webhook"
    assert document_of(body) == docs.simple()
    prefix = f"http://testserver/api/v1/webhooks/{body['id']}/"
    assert body["webhook_url"].startswith(prefix)
    token = body["webhook_url"].removeprefix(prefix)
    assert len(token) >= 43  # 32 random bytes, urlsafe base64

    detail = await client.get(f"{WORKFLOWS}/{body['id']}", headers=headers)
    assert detail.status_code == 200
    assert detail.json() == body


@pytest.mark.parametrize("make", [docs.branch, docs.paths, docs.loop])
async def test_the_detail_rebuilds_the_document_from_the_flat_rows(
    api: Api, app: FastAPI, client: httpx.AsyncClient, make: Any
) -> None:
    headers = await owner_headers(api)
    created = await create(client, headers, make())
    with app.state.session_factory() as session:  # the detail cannot read a stored copy
        workflow = session.get(Workflow, uuid.UUID(created["id"]))
        assert workflow is not None
        assert set(workflow.definition) == {"trigger"}

    detail = (await client.get(f"{WORKFLOWS}/{created['id']}", headers=headers)).json()

    assert document_of(detail) == make()
    # What the detail answers can be saved back unchanged.
    again = await client.put(f"{WORKFLOWS}/{created['id']}", json=make(), headers=headers)
    assert again.status_code == 200
    assert document_of(again.json()) == make()


async def test_nodes_are_stored_flat_as_the_architecture_says(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await owner_headers(api)
    created = await create(client, headers, docs.branch())
    rows = node_rows(app, created["id"])

    assert [r.node_id for r in sorted(rows.values(), key=lambda r: r.position)] == [
        "deal",
        "route",
        "big",
        "big_2",
        "small",
        "after",
    ]
    deal = rows["deal"]
    assert (deal.node_type, deal.action, deal.structural_type) == ("formatter", "text", "single")
    assert deal.config == {"parameters": {"transform": "upper", "input": "{{trigger.name}}"}}
    assert (deal.parent_node_id, deal.branch_name, deal.branch_conditions) == (None, None, None)
    route = rows["route"]
    assert (route.node_type, route.action, route.structural_type) == (None, None, "branch")
    assert route.branch_conditions is not None
    assert [(b["name"], b["next_node_id"]) for b in route.branch_conditions] == [
        ("Big deal", "big"),
        ("Nothing", None),
        ("Default", "small"),
    ]
    assert route.branch_conditions[0]["conditions"] == docs.gt("{{trigger.amount}}", 10000)
    assert (rows["big_2"].parent_node_id, rows["big_2"].branch_name) == ("route", "Big deal")
    assert (rows["small"].parent_node_id, rows["small"].branch_name) == ("route", "Default")
    assert rows["after"].parent_node_id is None


async def test_the_list_holds_only_the_callers_organizations_workflows(
    api: Api, client: httpx.AsyncClient
) -> None:
    acme = await owner_headers(api)
    globex = await owner_headers(api, "hank@globex.example", "Globex")
    await create(client, acme, docs.simple("Acme flow"))
    await create(client, globex, docs.simple("Globex flow"))

    response = await client.get(WORKFLOWS, headers=acme)

    assert response.status_code == 200
    body = response.json()
    assert [w["name"] for w in body["items"]] == ["Acme flow"]
    assert body["next_cursor"] is None
    assert "nodes" not in body["items"][0]


async def test_the_list_paginates_with_an_opaque_cursor(
    api: Api, client: httpx.AsyncClient
) -> None:
    headers = await owner_headers(api)
    created = [(await create(client, headers, docs.simple(f"Flow {i}")))["id"] for i in range(5)]

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        body = (await client.get(WORKFLOWS, params=params, headers=headers)).json()
        pages += 1
        assert len(body["items"]) <= 2
        seen += [w["id"] for w in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert pages == 3
    assert seen == list(reversed(created))  # newest first, each once


async def test_the_list_filters_by_status(api: Api, client: httpx.AsyncClient) -> None:
    headers = await owner_headers(api)
    active = await create(client, headers, docs.simple("Active"))
    await create(client, headers, docs.simple("Draft"))
    await client.post(f"{WORKFLOWS}/{active['id']}/activate", headers=headers)

    body = (await client.get(WORKFLOWS, params={"status": "active"}, headers=headers)).json()
    assert [w["name"] for w in body["items"]] == ["Active"]
    body = (await client.get(WORKFLOWS, params={"status": "draft"}, headers=headers)).json()
    assert [w["name"] for w in body["items"]] == ["Draft"]
    bad = await client.get(WORKFLOWS, params={"status": "sleeping"}, headers=headers)
    assert_problem(bad, 422, "validation-error")


@pytest.mark.parametrize(
    ("params", "field"),
    [({"limit": 101}, "limit"), ({"limit": 0}, "limit"), ({"cursor": "not-a-cursor"}, "cursor")],
)
async def test_a_bad_limit_or_cursor_is_a_422_problem(
    api: Api, client: httpx.AsyncClient, params: Any, field: str
) -> None:
    headers = await owner_headers(api)
    body = assert_problem(
        await client.get(WORKFLOWS, params=params, headers=headers), 422, "validation-error"
    )
    assert [e["field"] for e in body["errors"]] == [field]


async def test_workflows_need_a_token(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get(WORKFLOWS), 401, "unauthorized")
    assert_problem(await client.post(WORKFLOWS, json=docs.simple()), 401, "unauthorized")


# -- validation -------------------------------------------------------------------------------


def invalid_document() -> dict[str, Any]:
    document = docs.simple()
    document["nodes"] = [
        {"id": "crm", "app": "hubspot", "action": "get-object", "parameters": {}},
        docs.upper("twice"),
        docs.upper("twice"),
        docs.upper("early", "{{step.later.result}}"),
        docs.upper("later"),
    ]
    return document


def assert_lists_each_problem(body: dict[str, Any]) -> None:
    problems = body["problems"]
    assert all(set(p) == {"node_id", "field", "message"} for p in problems)
    by_node = {(p["node_id"], p["field"]) for p in problems}
    assert ("crm", "app") in by_node  # unknown app
    assert ("twice", None) in by_node  # duplicate id
    assert ("early", "parameters") in by_node  # a step that cannot have run before
    messages = {p["node_id"]: p["message"] for p in problems}
    assert "hubspot" in messages["crm"]
    assert "duplicate" in messages["twice"]
    assert "'later'" in messages["early"]


async def test_create_lists_each_problem_with_its_node(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await owner_headers(api)
    response = await client.post(WORKFLOWS, json=invalid_document(), headers=headers)
    assert_lists_each_problem(assert_problem(response, 422, "invalid-workflow"))
    with app.state.session_factory() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Workflow)) == 0


async def test_update_lists_each_problem_and_keeps_the_saved_document(
    api: Api, client: httpx.AsyncClient
) -> None:
    headers = await owner_headers(api)
    created = await create(client, headers, docs.simple())
    url = f"{WORKFLOWS}/{created['id']}"
    response = await client.put(url, json=invalid_document(), headers=headers)
    assert_lists_each_problem(assert_problem(response, 422, "invalid-workflow"))
    assert (await client.get(url, headers=headers)).json() == created


@pytest.mark.parametrize(
    "change",
    [
        {"id": "mine"},  # the server owns id, version and status
        {"version": 7},
        {"status": "active"},
        {"nodes": [{"id": "x", "type": "branch", "branches": []}]},
        {"name": ""},
    ],
)
async def test_anything_but_the_document_is_a_422_problem(
    api: Api, client: httpx.AsyncClient, change: dict[str, Any]
) -> None:
    headers = await owner_headers(api)
    response = await client.post(WORKFLOWS, json={**docs.simple(), **change}, headers=headers)
    assert_problem(response, 422, "validation-error")


# -- update, delete, status -------------------------------------------------------------------


async def test_update_replaces_the_document_and_bumps_the_version(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await owner_headers(api)
    created = await create(client, headers, docs.branch())
    url = f"{WORKFLOWS}/{created['id']}"

    response = await client.put(url, json=docs.loop(), headers=headers)

    assert response.status_code == 200
    body = response.json()
    assert body["version"] == 2
    assert body["trigger_type"] == "manual"
    assert body["webhook_url"] == created["webhook_url"]
    assert document_of(body) == docs.loop()
    assert set(node_rows(app, created["id"])) == {"each", "row", "inner", "long", "done"}
    assert (await client.get(url, headers=headers)).json() == body


async def test_delete_removes_the_workflow_and_its_nodes(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await owner_headers(api)
    created = await create(client, headers, docs.branch())
    url = f"{WORKFLOWS}/{created['id']}"

    response = await client.delete(url, headers=headers)

    assert response.status_code == 204
    assert response.content == b""
    assert_problem(await client.get(url, headers=headers), 404, "not-found")
    assert node_rows(app, created["id"]) == {}


async def test_activate_and_pause_move_the_status(api: Api, client: httpx.AsyncClient) -> None:
    headers = await owner_headers(api)
    created = await create(client, headers, docs.simple())
    url = f"{WORKFLOWS}/{created['id']}"

    paused_draft = await client.post(f"{url}/pause", headers=headers)
    assert_problem(paused_draft, 409, "invalid-status-transition")

    active = await client.post(f"{url}/activate", headers=headers)
    assert active.status_code == 200
    assert (active.json()["status"], active.json()["version"]) == ("active", 1)
    assert_problem(
        await client.post(f"{url}/activate", headers=headers), 409, "invalid-status-transition"
    )

    paused = await client.post(f"{url}/pause", headers=headers)
    assert paused.json()["status"] == "paused"
    again = await client.post(f"{url}/activate", headers=headers)
    assert again.json()["status"] == "active"
    assert (await client.get(url, headers=headers)).json()["status"] == "active"


async def test_activate_validates_the_workflow_again(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await owner_headers(api)
    created = await create(client, headers, docs.simple())
    with app.state.session_factory() as session:  # as if the app had been uninstalled since
        session.execute(
            sa.update(WorkflowNode)
            .where(WorkflowNode.workflow_id == uuid.UUID(created["id"]))
            .values(node_type="uninstalled")
        )
        session.commit()
    url = f"{WORKFLOWS}/{created['id']}"

    body = assert_problem(
        await client.post(f"{url}/activate", headers=headers), 422, "invalid-workflow"
    )

    assert [(p["node_id"], p["field"]) for p in body["problems"]] == [("shout", "app")]
    assert (await client.get(url, headers=headers)).json()["status"] == "draft"


# -- roles and tenancy ------------------------------------------------------------------------


async def test_members_may_read_but_not_write(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    registered = await api.register("ana@acme.example", "Acme")
    owner = bearer((await api.login("ana@acme.example"))["access_token"])
    created = await create(client, owner, docs.simple())
    add_user(app, registered["organization"]["id"], "mia@acme.example", Role.MEMBER)
    member = bearer((await api.login("mia@acme.example"))["access_token"])
    url = f"{WORKFLOWS}/{created['id']}"

    assert (await client.get(WORKFLOWS, headers=member)).json()["items"][0]["id"] == created["id"]
    assert (await client.get(url, headers=member)).json() == created
    for response in [
        await client.post(WORKFLOWS, json=docs.simple(), headers=member),
        await client.put(url, json=docs.simple(), headers=member),
        await client.delete(url, headers=member),
        await client.post(f"{url}/activate", headers=member),
        await client.post(f"{url}/pause", headers=member),
    ]:
        assert_problem(response, 403, "forbidden")
    assert (await client.get(url, headers=owner)).json() == created


async def test_admins_may_write(api: Api, app: FastAPI, client: httpx.AsyncClient) -> None:
    registered = await api.register("ana@acme.example", "Acme")
    add_user(app, registered["organization"]["id"], "adam@acme.example", Role.ADMIN)
    admin = bearer((await api.login("adam@acme.example"))["access_token"])
    created = await create(client, admin, docs.simple())
    response = await client.post(f"{WORKFLOWS}/{created['id']}/activate", headers=admin)
    assert response.status_code == 200


async def test_another_organizations_workflow_is_404_on_every_route(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    acme = await owner_headers(api)
    globex = await owner_headers(api, "hank@globex.example", "Globex")
    theirs = await create(client, globex, docs.simple("Globex flow"))

    for workflow_id in (theirs["id"], str(uuid.uuid4())):
        url = f"{WORKFLOWS}/{workflow_id}"
        for response in [
            await client.get(url, headers=acme),
            await client.put(url, json=docs.loop(), headers=acme),
            await client.delete(url, headers=acme),
            await client.post(f"{url}/activate", headers=acme),
            await client.post(f"{url}/pause", headers=acme),
        ]:
            body = assert_problem(response, 404, "not-found")
            assert "Globex" not in response.text
            assert body["detail"] == f"there is no workflow {workflow_id} in your organization"

    untouched = (await client.get(f"{WORKFLOWS}/{theirs['id']}", headers=globex)).json()
    assert untouched == theirs


# -- plan limit -------------------------------------------------------------------------------


async def test_the_free_plan_allows_five_workflows(api: Api, client: httpx.AsyncClient) -> None:
    headers = await owner_headers(api)
    created = [await create(client, headers, docs.simple(f"Flow {i}")) for i in range(5)]

    sixth = await client.post(WORKFLOWS, json=docs.simple("Sixth"), headers=headers)

    body = assert_problem(sixth, 403, "plan-limit-reached")
    assert (body["limit"], body["limit_value"], body["plan"]) == ("workflows_limit", 5, "free")
    assert "5 workflows" in body["detail"]
    listed = (await client.get(WORKFLOWS, headers=headers)).json()["items"]
    assert len(listed) == 5

    # Deleting one makes room again.
    await client.delete(f"{WORKFLOWS}/{created[0]['id']}", headers=headers)
    await create(client, headers, docs.simple("Sixth"))


async def test_an_unlimited_plan_has_no_workflow_limit(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await owner_headers(api)
    with app.state.session_factory() as session:
        org = session.scalars(sa.select(Organization)).one()
        org.apply_plan("enterprise")
        session.commit()
    for i in range(6):
        await create(client, headers, docs.simple(f"Flow {i}"))


async def test_concurrent_creates_never_pass_the_plan_limit(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await owner_headers(api)
    await create(client, headers, docs.simple("Existing"))

    # Sync routes run in the threadpool: these requests really race.
    responses = await asyncio.gather(
        *(client.post(WORKFLOWS, json=docs.simple(f"Flow {i}"), headers=headers) for i in range(12))
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 4 + [403] * 8
    for response in responses:
        if response.status_code == 403:
            assert_problem(response, 403, "plan-limit-reached")
    with app.state.session_factory() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Workflow)) == 5
