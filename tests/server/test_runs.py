"""/api/v1/workflows/{id}/runs: start, test, list, detail with steps, cancel, tenancy."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from server import workflow_docs as docs
from server.apikit import Api, assert_problem
from server.test_workflows import WORKFLOWS, create, owner_headers


def branching() -> dict[str, Any]:
    """The branch document, ending with a node that reads the branch's first step."""
    document = docs.branch()
    document["nodes"][-1] = docs.upper("after", "{{step.deal.value}}!")
    return document


async def workflow(
    api: Api, client: httpx.AsyncClient, document: dict[str, Any] | None = None
) -> tuple[Any, str]:
    headers = await owner_headers(api)
    body = await create(client, headers, document or branching())
    return headers, f"{WORKFLOWS}/{body['id']}/runs"


async def start(
    client: httpx.AsyncClient, runs: str, headers: Any, data: Any, **params: Any
) -> dict[str, Any]:
    response = await client.post(runs, json={"data": data}, headers=headers, params=params)
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_run_executes_the_workflow_and_its_detail_lists_every_step(
    api: Api, client: httpx.AsyncClient
) -> None:
    headers, runs = await workflow(api, client)
    started = await start(client, runs, headers, {"name": "acme", "amount": 20000}, wait=10)
    assert started["status"] == "completed"
    detail = (await client.get(f"{runs}/{started['id']}", headers=headers)).json()
    assert [s["node_id"] for s in detail["steps"]] == ["deal", "route", "big", "big_2", "after"]
    deal = detail["steps"][0]
    assert deal["status"] == "success"
    assert deal["data_in"] == {"transform": "upper", "input": "acme"}
    assert deal["data_out"]["data"] == {"value": "ACME"}
    assert deal["error"] is None and deal["duration_ms"] >= 0
    assert detail["trigger_data"] == {"name": "acme", "amount": 20000}
    assert detail["test_run"] is False and detail["approval_url"] is None


async def test_start_answers_at_once_and_the_run_finishes_in_the_background(
    api: Api, client: httpx.AsyncClient, app: FastAPI
) -> None:
    headers, runs = await workflow(api, client)
    started = await start(client, runs, headers, {"name": "x", "amount": 1})
    assert started["status"] in ("running", "completed")
    await app.state.runtime.runner.wait(started["id"], timeout=10)
    detail = (await client.get(f"{runs}/{started['id']}", headers=headers)).json()
    assert detail["status"] == "completed"
    assert [s["node_id"] for s in detail["steps"]] == ["deal", "route", "small", "after"]


async def test_a_waiting_approval_shows_its_public_url(api: Api, client: httpx.AsyncClient) -> None:
    headers, runs = await workflow(api, client, docs.approval())
    started = await start(client, runs, headers, {"name": "acme"}, wait=10)
    assert started["status"] == "waiting"
    waiting = started["steps"][1]
    assert waiting["status"] == "waiting"
    assert waiting["wait"]["reason"] == "approval"
    url = waiting["wait"]["approval_url"]
    assert url.startswith("http://testserver/api/v1/approvals/")
    assert started["approval_url"] == url


async def test_a_test_run_stops_after_until_step_and_uses_mocked_outputs(
    api: Api, client: httpx.AsyncClient
) -> None:
    headers, runs = await workflow(api, client)
    response = await client.post(
        f"{runs}/test",
        json={
            "data": {"name": "acme", "amount": 20000},
            "until_step": "big",
            "mock_data": {"deal": {"result": "MOCKED"}},
        },
        headers=headers,
        params={"wait": 10},
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["test_run"] is True and body["until_step"] == "big"
    assert body["status"] == "completed"
    assert [s["node_id"] for s in body["steps"]] == ["deal", "route", "big"]
    assert body["steps"][0]["data_out"]["data"] == {"result": "MOCKED"}
    assert body["steps"][2]["data_in"]["input"] == "MOCKED"


async def test_a_test_run_naming_unknown_nodes_is_a_422_listing_them(
    api: Api, client: httpx.AsyncClient
) -> None:
    headers, runs = await workflow(api, client)
    response = await client.post(
        f"{runs}/test",
        json={"data": {}, "until_step": "nope", "mock_data": {"ghost": {}}},
        headers=headers,
    )
    body = assert_problem(response, 422, "invalid-workflow")
    assert {(p["node_id"], p["field"]) for p in body["problems"]} == {
        ("nope", "until_step"),
        ("ghost", "mock_data"),
    }


async def test_the_list_filters_by_status_and_pages_newest_first(
    api: Api, client: httpx.AsyncClient
) -> None:
    headers, runs = await workflow(api, client, docs.approval())
    ids = [(await start(client, runs, headers, {"name": str(i)}, wait=10))["id"] for i in range(3)]
    first = (await client.get(runs, headers=headers, params={"limit": 2})).json()
    assert [r["id"] for r in first["items"]] == ids[::-1][:2]
    second = (
        await client.get(runs, headers=headers, params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()
    assert [r["id"] for r in second["items"]] == [ids[0]] and second["next_cursor"] is None
    waiting = (await client.get(runs, headers=headers, params={"status": "waiting"})).json()
    assert len(waiting["items"]) == 3
    done = (await client.get(runs, headers=headers, params={"status": "completed"})).json()
    assert done["items"] == []
    bad = await client.get(runs, headers=headers, params={"status": "nope"})
    assert_problem(bad, 422, "validation-error")


async def test_cancel_ends_a_waiting_run(api: Api, client: httpx.AsyncClient) -> None:
    headers, runs = await workflow(api, client, docs.approval())
    started = await start(client, runs, headers, {"name": "x"}, wait=10)
    response = await client.post(f"{runs}/{started['id']}/cancel", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    again = await client.post(f"{runs}/{started['id']}/cancel", headers=headers)
    assert again.json()["status"] == "cancelled"


async def test_a_paused_workflow_cannot_be_run(api: Api, client: httpx.AsyncClient) -> None:
    headers, runs = await workflow(api, client, docs.simple())
    base = runs.removesuffix("/runs")
    assert (await client.post(f"{base}/activate", headers=headers)).status_code == 200
    assert (await client.post(f"{base}/pause", headers=headers)).status_code == 200
    response = await client.post(runs, json={"data": {}}, headers=headers)
    assert_problem(response, 409, "workflow-not-runnable")


async def test_another_organizations_runs_are_not_found(
    api: Api, client: httpx.AsyncClient
) -> None:
    headers, runs = await workflow(api, client)
    started = await start(client, runs, headers, {"name": "x", "amount": 1}, wait=10)
    other = await owner_headers(api, "eve@evil.example", "Evil")
    for method, url in [
        ("GET", runs),
        ("GET", f"{runs}/{started['id']}"),
        ("POST", f"{runs}/{started['id']}/cancel"),
        ("POST", runs),
    ]:
        response = await client.request(method, url, headers=other, json={"data": {}})
        assert_problem(response, 404, "not-found")
    # Their own workflow cannot reach our run by its id either.
    _, theirs = await workflow_for(api, client, other)
    assert_problem(await client.get(f"{theirs}/{started['id']}", headers=other), 404, "not-found")
    assert_problem(await client.get(f"{runs}/{uuid.uuid4()}", headers=headers), 404, "not-found")


async def workflow_for(api: Api, client: httpx.AsyncClient, headers: Any) -> tuple[Any, str]:
    body = await create(client, headers, docs.simple())
    return headers, f"{WORKFLOWS}/{body['id']}/runs"


async def test_a_run_needs_a_token(api: Api, client: httpx.AsyncClient) -> None:
    _, runs = await workflow(api, client)
    assert_problem(await client.get(runs), 401, "unauthorized")


async def test_what_a_step_logs_carries_the_execution_and_step_ids(
    api: Api, client: httpx.AsyncClient, app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from docg_server.logging import ContextFilter

    class Loud:
        async def __call__(self, execution: Any, step: Any) -> None:
            logging.getLogger("docg.test").warning("running %s", step.key)

    app.state.runtime.before_action.append(Loud())
    headers, runs = await workflow(api, client, docs.simple())
    handler_filter = ContextFilter()
    caplog.handler.addFilter(handler_filter)
    with caplog.at_level(logging.WARNING, logger="docg.test"):
        started = await start(client, runs, headers, {"name": "x"}, wait=10)
    [record] = [r for r in caplog.records if r.name == "docg.test"]
    assert (record.execution_id, record.step_id) == (started["id"], "shout")
