"""/api/v1/approvals/{token}: the public approval link — JSON, HTML page, decide once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from server import workflow_docs as docs
from server.apikit import Api, assert_problem
from server.test_workflows import WORKFLOWS, create, owner_headers


async def waiting_run(
    api: Api, client: httpx.AsyncClient, **parameters: Any
) -> tuple[Any, str, dict[str, Any]]:
    headers = await owner_headers(api)
    document = docs.approval()
    document["nodes"][1] = docs.approval_node(**parameters)
    workflow = await create(client, headers, document)
    runs = f"{WORKFLOWS}/{workflow['id']}/runs"
    response = await client.post(
        runs, json={"data": {"name": "acme"}}, headers=headers, params={"wait": 10}
    )
    assert response.status_code == 202, response.text
    run = response.json()
    assert run["status"] == "waiting", run
    return headers, runs, run


def path_of(url: str) -> str:
    return str(httpx.URL(url).path)


async def test_the_approval_says_what_is_approved_with_signed_document_links(
    api: Api, client: httpx.AsyncClient, app: FastAPI
) -> None:
    headers = await owner_headers(api)
    me = (await client.get("/api/v1/organizations/me", headers=headers)).json()
    key = f"docg/{me['id']}/outputs/contract.pdf"
    await app.state.storage.put(key, b"%PDF-1.4 contract", content_type="application/pdf")
    document = docs.approval()
    document["nodes"][1] = docs.approval_node(
        message="Please check clause 3",
        approvers=["boss@acme.example"],
        document_urls=[key, "https://example.com/spec.pdf", "docg/another-org/outputs/x.pdf"],
        timeout_hours=2,
    )
    workflow = await create(client, headers, document)
    run = (
        await client.post(
            f"{WORKFLOWS}/{workflow['id']}/runs",
            json={"data": {"name": "acme"}},
            headers=headers,
            params={"wait": 10},
        )
    ).json()
    response = await client.get(path_of(run["approval_url"]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "pending"
    assert body["title"] == "Contract for acme"
    assert body["message"] == "Please check clause 3"
    assert body["approvers"] == ["boss@acme.example"]
    assert body["execution_id"] == run["id"]
    assert body["workflow_name"] == "Needs approval"
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(hours=1.9) < expires - datetime.now(UTC) < timedelta(hours=2.1)
    signed, external = body["document_urls"]  # the other organization's key is dropped
    assert external == "https://example.com/spec.pdf"
    download = await client.get(path_of(signed), params=dict(httpx.URL(signed).params))
    assert download.status_code == 200, download.text
    assert download.content == b"%PDF-1.4 contract"


async def test_approving_continues_the_run_and_the_link_is_single_use(
    api: Api, client: httpx.AsyncClient, app: FastAPI
) -> None:
    headers, runs, run = await waiting_run(api, client)
    url = path_of(run["approval_url"])
    response = await client.post(f"{url}/approve", json={"name": "Boss", "comment": "fine"})
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "approved", "execution_id": run["id"]}
    await app.state.runtime.runner.wait(run["id"], timeout=10)
    detail = (await client.get(f"{runs}/{run['id']}", headers=headers)).json()
    assert detail["status"] == "completed"
    decided = detail["steps"][1]["data_out"]["data"]
    assert (decided["decision"], decided["comment"], decided["decided_by"]) == (
        "approved",
        "fine",
        "Boss",
    )
    assert detail["steps"][2]["data_out"]["data"] == {"value": "APPROVED"}
    assert_problem(await client.get(url), 404, "not-found")
    assert_problem(await client.post(f"{url}/reject", json={}), 404, "not-found")


async def test_rejecting_fails_the_run_with_the_comment(
    api: Api, client: httpx.AsyncClient, app: FastAPI
) -> None:
    _, _, run = await waiting_run(api, client)
    url = path_of(run["approval_url"])
    response = await client.post(f"{url}/reject", json={"comment": "wrong price"})
    assert response.json()["status"] == "rejected"
    final = await app.state.runtime.runner.wait(run["id"], timeout=10)
    assert final.status == "failed"
    assert "wrong price" in (final.error or "")


async def test_two_decisions_at_once_record_exactly_one(
    api: Api, client: httpx.AsyncClient, app: FastAPI
) -> None:
    _, _, run = await waiting_run(api, client)
    url = path_of(run["approval_url"])
    answers = await asyncio.gather(
        *(client.post(f"{url}/{verb}", json={}) for verb in ["approve", "reject"] * 3)
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(200) == 1, [a.text for a in answers]
    for answer in answers:
        if answer.status_code != 200:
            assert answer.status_code in (404, 409)
    await app.state.runtime.runner.wait(run["id"], timeout=10)


async def test_an_expired_approval_can_be_seen_but_not_decided(
    api: Api, client: httpx.AsyncClient, app: FastAPI
) -> None:
    _, _, run = await waiting_run(api, client, timeout_hours=0.0001)
    await asyncio.sleep(0.5)
    url = path_of(run["approval_url"])
    assert (await client.get(url)).json()["status"] == "expired"
    assert_problem(await client.post(f"{url}/approve", json={}), 409, "approval-expired")


async def test_a_browser_gets_the_page_and_can_decide_with_its_form(
    api: Api, client: httpx.AsyncClient, app: FastAPI
) -> None:
    _, _, run = await waiting_run(api, client, message="<script>alert(1)</script>")
    url = path_of(run["approval_url"])
    page = await client.get(url, headers={"Accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "form-action 'self'" in page.headers["content-security-policy"]
    assert "Contract for acme" in page.text
    assert "<script>alert(1)</script>" not in page.text  # escaped
    assert "&lt;script&gt;" in page.text
    assert f'formaction="http://testserver{url}/approve"' in page.text
    decided = await client.post(
        f"{url}/approve",
        data={"name": "Boss", "comment": "ok", "decision": "approved"},
        headers={"Accept": "text/html"},
    )
    assert decided.status_code == 200
    assert "approved" in decided.text and decided.headers["content-type"].startswith("text/html")
    gone = await client.get(url, headers={"Accept": "text/html"})
    assert gone.status_code == 404 and "cannot be used" in gone.text
    await app.state.runtime.runner.wait(run["id"], timeout=10)


async def test_unknown_and_malformed_tokens(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/api/v1/approvals/" + "a" * 43), 404, "not-found")
    assert_problem(await client.get("/api/v1/approvals/short"), 422, "validation-error")


async def test_with_every_approver_required_each_decides_with_their_email(
    api: Api, client: httpx.AsyncClient, app: FastAPI
) -> None:
    _, _, run = await waiting_run(
        api,
        client,
        approvers=["ana@acme.example", "bia@acme.example"],
        approval_policy="all",
    )
    url = path_of(run["approval_url"])
    seen = (await client.get(url)).json()
    assert seen["approval_policy"] == "all"
    assert seen["pending"] == ["ana@acme.example", "bia@acme.example"]
    page = await client.get(url, headers={"Accept": "text/html"})
    assert "name=email type=email" in page.text
    stranger = await client.post(f"{url}/approve", json={"email": "eve@evil.example"})
    assert_problem(stranger, 422, "not-a-pending-approver")
    first = await client.post(f"{url}/approve", json={"email": "ANA@acme.example"})
    assert first.status_code == 200, first.text
    for _ in range(50):  # the first decision is recorded in the background
        after_first = await client.get(url)
        if after_first.status_code == 200 and after_first.json()["pending"] == ["bia@acme.example"]:
            break
        await asyncio.sleep(0.05)
    assert after_first.json()["pending"] == ["bia@acme.example"]
    again = await client.post(f"{url}/approve", json={"email": "ana@acme.example"})
    assert_problem(again, 422, "not-a-pending-approver")
    second = await client.post(f"{url}/approve", json={"email": "bia@acme.example"})
    assert second.status_code == 200, second.text
    final = await app.state.runtime.runner.wait(run["id"], timeout=10)
    assert final.status == "completed"
    assert set(final.step("ok").data_out["data"]["approvals"]) == {
        "ana@acme.example",
        "bia@acme.example",
    }
