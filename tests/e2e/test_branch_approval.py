"""End to end over HTTP: a webhook starts a workflow whose branch sends large deals for approval;
the approver decides through the public link; the generated document is listed."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from fastapi import FastAPI
from server.apikit import Api, bearer, use_plugins
from support.docx_builders import build, text

import docg_documents


def workflow(template_key: str) -> dict[str, Any]:
    large = {
        "type": "and",
        "rules": [{"field": "{{trigger.amount}}", "operator": ">", "value": 10000}],
    }
    return {
        "name": "Proposal with sign-off",
        "trigger": {"app": "webhook", "key": "catch-hook"},
        "nodes": [
            {
                "id": "route",
                "type": "branch",
                "branches": [
                    {
                        "name": "Large deal",
                        "conditions": large,
                        "nodes": [
                            {
                                "id": "sign-off",
                                "app": "approval",
                                "action": "request-approval",
                                "parameters": {"title": "Approve {{trigger.client}}"},
                            }
                        ],
                    },
                    {"name": "Standard", "conditions": None, "nodes": []},
                ],
            },
            {
                "id": "proposal",
                "app": "documents",
                "action": "generate-document",
                "parameters": {
                    "template": template_key,
                    "data": {
                        "client": "{{trigger.client}}",
                        "decision": "{{step.sign-off.decision}}",
                    },
                    "output_name": "Proposal {{trigger.client}}",
                    "formats": ["docx"],
                },
            },
        ],
    }


async def until_status(
    client: httpx.AsyncClient, headers: Any, path: str, status: str
) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        run: dict[str, Any] = (await client.get(path, headers=headers)).json()
        if run["status"] == status:
            return run
        assert run["status"] not in ("failed", "cancelled"), run
        assert time.monotonic() < deadline, run["status"]
        await asyncio.sleep(0.05)


async def test_a_large_deal_waits_for_approval_then_its_document_is_listed(
    api: Api, client: httpx.AsyncClient, app: FastAPI
) -> None:
    use_plugins(app, docg_documents)
    await api.register("ana@acme.example", org="Acme")
    headers = bearer((await api.login("ana@acme.example"))["access_token"])
    uploaded = await client.post(
        "/api/v1/templates",
        files={"file": ("proposal.docx", build(text("Proposal for {{ client }}: {{ decision }}")))},
        headers=headers,
    )
    assert uploaded.status_code == 201, uploaded.text
    created = await client.post(
        "/api/v1/workflows", json=workflow(uploaded.json()["storage_key"]), headers=headers
    )
    assert created.status_code == 201, created.text
    flow = created.json()
    activated = await client.post(f"/api/v1/workflows/{flow['id']}/activate", headers=headers)
    assert activated.status_code == 200, activated.text

    hook = httpx.URL(flow["webhook_url"]).path
    started = await client.post(hook, json={"client": "Globex", "amount": 25000})
    assert started.status_code == 202, started.text
    run_path = f"/api/v1/workflows/{flow['id']}/runs/{started.json()['execution_id']}"
    run = await until_status(client, headers, run_path, "waiting")
    assert run["steps"][0]["data_out"]["data"]["branches"] == ["Large deal"]
    assert (await client.get("/api/v1/documents", headers=headers)).json()["items"] == []

    # The approver needs no account: the link decides.
    link = httpx.URL(run["approval_url"]).path
    page = (await client.get(link)).json()
    assert page["title"] == "Approve Globex" and page["status"] == "pending"
    decided = await client.post(f"{link}/approve", json={"name": "Bruno", "comment": "ok"})
    assert decided.json()["status"] == "approved"
    run = await until_status(client, headers, run_path, "completed")
    assert [s["node_id"] for s in run["steps"]] == ["route", "sign-off", "proposal"]

    [document] = (await client.get("/api/v1/documents", headers=headers)).json()["items"]
    assert (document["execution_id"], document["node_id"]) == (run["id"], "proposal")
    assert document["name"] == "Proposal Globex"
    link = await client.get(
        f"/api/v1/documents/{document['id']}/download?format=file", headers=headers
    )
    assert link.status_code == 200, link.text
    downloaded = await client.get(httpx.URL(link.json()["url"]).raw_path.decode())
    assert downloaded.status_code == 200 and downloaded.content.startswith(b"PK")
    # A second webhook with a small amount takes the standard branch: no approval needed.
    small = await client.post(
        hook, json={"client": "Initech", "amount": 500}, params={"sync": "true"}
    )
    assert small.json()["status"] == "completed"
    assert len((await client.get("/api/v1/documents", headers=headers)).json()["items"]) == 2
