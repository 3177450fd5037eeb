"""/api/v1/workflows/{id}/nodes: list, append/insert, replace, delete, reorder, validation."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from server import workflow_docs as docs
from server.apikit import Api, assert_problem, bearer
from server.test_organizations import add_user
from server.test_workflows import WORKFLOWS, create, document_of, node_rows, owner_headers

from docg_server.models import Role


async def setup(
    api: Api, client: httpx.AsyncClient, document: dict[str, Any] | None = None
) -> tuple[Any, str]:
    headers = await owner_headers(api)
    created = await create(client, headers, docs.branch() if document is None else document)
    return headers, f"{WORKFLOWS}/{created['id']}"


async def detail(client: httpx.AsyncClient, url: str, headers: Any) -> dict[str, Any]:
    body: dict[str, Any] = (await client.get(url, headers=headers)).json()
    return body


def ids(nodes: list[dict[str, Any]]) -> list[str]:
    return [node["id"] for node in nodes]


async def test_the_list_holds_the_top_level_nodes_in_order(
    api: Api, client: httpx.AsyncClient
) -> None:
    headers, url = await setup(api, client)

    response = await client.get(f"{url}/nodes", headers=headers)

    assert response.status_code == 200
    assert response.json() == docs.branch()["nodes"]


async def test_append_puts_the_node_last_and_bumps_the_version(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers, url = await setup(api, client)
    node = docs.upper("tail", "{{step.after.result}}")

    response = await client.post(f"{url}/nodes", json=node, headers=headers)

    assert response.status_code == 201, response.text
    assert response.json() == node
    body = await detail(client, url, headers)
    assert body["version"] == 2
    assert ids(body["nodes"]) == ["deal", "route", "after", "tail"]
    assert "tail" in node_rows(app, body["id"])


async def test_insert_at_a_position_among_the_top_level_nodes(
    api: Api, client: httpx.AsyncClient
) -> None:
    headers, url = await setup(api, client)

    first = await client.post(
        f"{url}/nodes", params={"position": 0}, json=docs.upper("head"), headers=headers
    )
    assert first.status_code == 201, first.text
    middle = await client.post(
        f"{url}/nodes", params={"position": 2}, json=docs.upper("mid"), headers=headers
    )
    assert middle.status_code == 201, middle.text

    body = await detail(client, url, headers)
    assert ids(body["nodes"]) == ["head", "deal", "mid", "route", "after"]
    assert body["version"] == 3


@pytest.mark.parametrize("position", [-1, 4])
async def test_a_position_out_of_range_is_a_422_problem(
    api: Api, client: httpx.AsyncClient, position: int
) -> None:
    headers, url = await setup(api, client)
    response = await client.post(
        f"{url}/nodes", params={"position": position}, json=docs.upper("x"), headers=headers
    )
    body = assert_problem(response, 422, "validation-error")
    assert [e["field"] for e in body["errors"]] == ["position"]
    assert (await detail(client, url, headers))["version"] == 1


async def test_replace_a_node_nested_in_a_branch(api: Api, client: httpx.AsyncClient) -> None:
    headers, url = await setup(api, client)
    node = docs.upper("big_2", "{{step.big.result}}", name="Second big step")

    response = await client.put(f"{url}/nodes/big_2", json=node, headers=headers)

    assert response.status_code == 200, response.text
    assert response.json() == node
    body = await detail(client, url, headers)
    assert body["version"] == 2
    expected = docs.branch()
    expected["nodes"][1]["branches"][0]["nodes"][1] = node
    assert document_of(body) == expected


async def test_replace_may_change_a_node_s_type_and_children(
    api: Api, client: httpx.AsyncClient
) -> None:
    headers, url = await setup(api, client)
    node = {"id": "route", "type": "loop", "items": "{{trigger.rows}}", "nodes": [docs.upper("z")]}

    response = await client.put(f"{url}/nodes/route", json=node, headers=headers)

    assert response.status_code == 200, response.text
    assert response.json() == node
    assert ids((await detail(client, url, headers))["nodes"]) == ["deal", "route", "after"]


async def test_a_replacement_may_not_change_the_id(api: Api, client: httpx.AsyncClient) -> None:
    headers, url = await setup(api, client)
    response = await client.put(f"{url}/nodes/big", json=docs.upper("other"), headers=headers)
    body = assert_problem(response, 422, "validation-error")
    assert [e["field"] for e in body["errors"]] == ["id"]
    assert (await detail(client, url, headers))["version"] == 1


async def test_delete_removes_a_nested_node_and_its_children(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers, url = await setup(api, client, docs.loop())

    nested = await client.delete(f"{url}/nodes/inner", headers=headers)  # inside the loop

    assert nested.status_code == 204
    assert nested.content == b""
    body = await detail(client, url, headers)
    assert body["version"] == 2
    assert set(node_rows(app, body["id"])) == {"each", "row", "done"}
    expected = docs.loop()
    del expected["nodes"][0]["nodes"][1]
    assert document_of(body) == expected


async def test_reorder_puts_the_top_level_nodes_in_the_order_given(
    api: Api, client: httpx.AsyncClient
) -> None:
    document = docs.simple()
    document["nodes"] = [docs.upper("a"), docs.upper("b"), docs.upper("c")]
    headers, url = await setup(api, client, document)

    response = await client.post(
        f"{url}/nodes/reorder", json={"order": ["c", "a", "b"]}, headers=headers
    )

    assert response.status_code == 200, response.text
    assert ids(response.json()) == ["c", "a", "b"]
    body = await detail(client, url, headers)
    assert (ids(body["nodes"]), body["version"]) == (["c", "a", "b"], 2)


@pytest.mark.parametrize(
    ("order", "words"),
    [
        (["deal", "route"], ["missing 'after'"]),
        (["deal", "route", "after", "big"], ["not top-level nodes 'big'"]),
        (["deal", "route", "after", "deal"], ["repeated 'deal'"]),
        (["deal", "route", "nope"], ["missing 'after'", "'nope'"]),
    ],
)
async def test_reorder_needs_a_permutation_of_the_top_level_ids(
    api: Api, client: httpx.AsyncClient, order: list[str], words: list[str]
) -> None:
    headers, url = await setup(api, client)
    response = await client.post(f"{url}/nodes/reorder", json={"order": order}, headers=headers)
    body = assert_problem(response, 422, "validation-error")
    assert [e["field"] for e in body["errors"]] == ["order"]
    for word in words:
        assert word in body["detail"]
    assert (await detail(client, url, headers))["version"] == 1


async def test_a_change_that_breaks_the_workflow_is_refused_with_its_problems(
    api: Api, client: httpx.AsyncClient
) -> None:
    headers, url = await setup(api, client)
    before = await detail(client, url, headers)

    # "big" reads {{step.deal.result}}: deleting "deal" breaks it.
    deleted = await client.delete(f"{url}/nodes/deal", headers=headers)
    body = assert_problem(deleted, 422, "invalid-workflow")
    assert ("big", "parameters") in {(p["node_id"], p["field"]) for p in body["problems"]}

    # Moving "after" (it reads {{step.route}}) before "route" breaks it too.
    moved = await client.post(
        f"{url}/nodes/reorder", json={"order": ["after", "deal", "route"]}, headers=headers
    )
    assert_problem(moved, 422, "invalid-workflow")

    # A duplicate id, an unknown app.
    duplicate = await client.post(f"{url}/nodes", json=docs.upper("big"), headers=headers)
    assert_problem(duplicate, 422, "invalid-workflow")
    unknown = {"id": "crm", "app": "hubspot", "action": "get-object", "parameters": {}}
    body = assert_problem(
        await client.put(f"{url}/nodes/small", json={**unknown, "id": "small"}, headers=headers),
        422,
        "invalid-workflow",
    )
    assert [(p["node_id"], p["field"]) for p in body["problems"]] == [("small", "app")]

    assert await detail(client, url, headers) == before


async def test_a_malformed_node_is_a_422_validation_error(
    api: Api, client: httpx.AsyncClient
) -> None:
    headers, url = await setup(api, client)
    for node in [
        {"id": "x", "type": "branch", "branches": []},
        {"id": "x", "app": "formatter"},
        {**docs.upper("x"), "extra": 1},
        {
            "id": "x",
            "type": "paths",
            "branches": [{"name": "n" * 201, "nodes": []}],
        },
    ]:
        response = await client.post(f"{url}/nodes", json=node, headers=headers)
        assert_problem(response, 422, "validation-error")


async def test_an_unknown_node_is_a_404_problem(api: Api, client: httpx.AsyncClient) -> None:
    headers, url = await setup(api, client)
    for response in [
        await client.put(f"{url}/nodes/ghost", json=docs.upper("ghost"), headers=headers),
        await client.delete(f"{url}/nodes/ghost", headers=headers),
    ]:
        body = assert_problem(response, 404, "not-found")
        assert "'ghost'" in body["detail"]
    assert (await detail(client, url, headers))["version"] == 1


async def test_members_may_list_but_not_change_nodes(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    registered = await api.register("ana@acme.example", "Acme")
    owner = bearer((await api.login("ana@acme.example"))["access_token"])
    created = await create(client, owner, docs.branch())
    add_user(app, registered["organization"]["id"], "mia@acme.example", Role.MEMBER)
    member = bearer((await api.login("mia@acme.example"))["access_token"])
    url = f"{WORKFLOWS}/{created['id']}/nodes"

    assert (await client.get(url, headers=member)).status_code == 200
    for response in [
        await client.post(url, json=docs.upper("x"), headers=member),
        await client.put(f"{url}/big", json=docs.upper("big"), headers=member),
        await client.delete(f"{url}/big", headers=member),
        await client.post(f"{url}/reorder", json={"order": []}, headers=member),
    ]:
        assert_problem(response, 403, "forbidden")
    assert (await detail(client, f"{WORKFLOWS}/{created['id']}", owner))["version"] == 1


async def test_another_organizations_workflow_is_404_on_every_node_route(
    api: Api, client: httpx.AsyncClient
) -> None:
    acme = await owner_headers(api)
    globex = await owner_headers(api, "hank@globex.example", "Globex")
    theirs = await create(client, globex, docs.branch())

    for workflow_id in (theirs["id"], str(uuid.uuid4())):
        url = f"{WORKFLOWS}/{workflow_id}/nodes"
        for response in [
            await client.get(url, headers=acme),
            await client.post(url, json=docs.upper("x"), headers=acme),
            await client.put(f"{url}/big", json=docs.upper("big"), headers=acme),
            await client.delete(f"{url}/big", headers=acme),
            await client.post(
                f"{url}/reorder", json={"order": ["deal", "route", "after"]}, headers=acme
            ),
        ]:
            body = assert_problem(response, 404, "not-found")
            assert body["detail"] == f"there is no workflow {workflow_id} in your organization"

    untouched = await detail(client, f"{WORKFLOWS}/{theirs['id']}", globex)
    assert untouched == theirs
