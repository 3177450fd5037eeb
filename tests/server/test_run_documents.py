"""Runs that generate documents: every generation takes one document from the plan's quota
atomically, is recorded with its lineage, and a failed one gives its document back."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import sqlalchemy as sa
from fastapi import FastAPI
from server.apikit import Api, use_plugins
from server.test_workflows import WORKFLOWS, create, owner_headers
from support.docx_builders import build, text

import docg_documents
from docg_server.models import GeneratedDocument, Organization

TEMPLATE = build(text("Contract for {{ client }}"))


async def document_workflow(
    api: Api, client: httpx.AsyncClient, app: FastAPI, *, template: bytes = TEMPLATE
) -> tuple[Any, str, str]:
    use_plugins(app, docg_documents)
    headers = await owner_headers(api)
    org = (await client.get("/api/v1/organizations/me", headers=headers)).json()
    key = f"docg/{org['id']}/templates/contract.docx"
    await app.state.storage.put(key, template)
    workflow = await create(
        client,
        headers,
        {
            "name": "Contracts",
            "trigger": {"app": "manual", "key": "manual"},
            "nodes": [
                {
                    "id": "contract",
                    "app": "documents",
                    "action": "generate-document",
                    "parameters": {"template": key, "data": {"client": "{{trigger.client}}"}},
                }
            ],
        },
    )
    return headers, f"{WORKFLOWS}/{workflow['id']}/runs", org["id"]


def set_quota(app: FastAPI, org_id: str, *, limit: int | None, used: int) -> None:
    with app.state.session_factory() as session:
        session.execute(
            sa.update(Organization)
            .where(Organization.id == uuid.UUID(org_id))
            .values(documents_limit=limit, documents_used=used)
        )
        session.commit()


def usage(app: FastAPI, org_id: str) -> int:
    with app.state.session_factory() as session:
        used: int = session.scalar(
            sa.select(Organization.documents_used).where(Organization.id == uuid.UUID(org_id))
        )
        return used


def documents(app: FastAPI) -> list[GeneratedDocument]:
    with app.state.session_factory() as session:
        return list(session.scalars(sa.select(GeneratedDocument)))


async def test_a_generated_document_is_counted_and_recorded_with_its_lineage(
    api: Api, client: httpx.AsyncClient, app: FastAPI
) -> None:
    headers, runs, org_id = await document_workflow(api, client, app)
    run = (
        await client.post(
            runs, json={"data": {"client": "Acme"}}, headers=headers, params={"wait": 20}
        )
    ).json()
    assert run["status"] == "completed", run["error"]
    assert usage(app, org_id) == 1
    [row] = documents(app)
    output = run["steps"][0]["data_out"]["data"]
    assert (row.execution_id, row.node_id, row.file_key) == (
        run["id"],
        "contract",
        output["file_key"],
    )
    assert row.template_key == f"docg/{org_id}/templates/contract.docx"
    assert row.data_sha256 == output["lineage"]["data_sha256"]


async def test_fifty_concurrent_runs_against_three_remaining_documents_make_exactly_three(
    api: Api, client: httpx.AsyncClient, app: FastAPI
) -> None:
    headers, runs, org_id = await document_workflow(api, client, app)
    set_quota(app, org_id, limit=10, used=7)
    started = await asyncio.gather(
        *(client.post(runs, json={"data": {"client": f"c{i}"}}, headers=headers) for i in range(50))
    )
    assert all(r.status_code == 202 for r in started), started[0].text
    finals = [await app.state.runtime.runner.wait(r.json()["id"], timeout=60) for r in started]
    completed = [f for f in finals if f.status == "completed"]
    refused = [f for f in finals if f.status == "failed"]
    assert len(completed) == 3 and len(refused) == 47
    assert {f.step("contract").error_code for f in refused} == {"plan-limit-reached"}
    assert "every document its plan allows" in (refused[0].error or "")
    assert usage(app, org_id) == 10
    assert len(documents(app)) == 3


async def test_a_failed_generation_gives_its_document_back(
    api: Api, client: httpx.AsyncClient, app: FastAPI
) -> None:
    headers, runs, org_id = await document_workflow(api, client, app, template=b"not a docx")
    set_quota(app, org_id, limit=10, used=2)
    run = (
        await client.post(
            runs, json={"data": {"client": "Acme"}}, headers=headers, params={"wait": 20}
        )
    ).json()
    assert run["status"] == "failed"
    assert run["steps"][0]["error_code"] != "plan-limit-reached"
    assert usage(app, org_id) == 2
    assert documents(app) == []


async def test_a_test_run_with_the_generation_mocked_uses_no_quota(
    api: Api, client: httpx.AsyncClient, app: FastAPI
) -> None:
    headers, runs, org_id = await document_workflow(api, client, app)
    set_quota(app, org_id, limit=1, used=1)
    response = await client.post(
        f"{runs}/test",
        json={"data": {}, "mock_data": {"contract": {"file_key": "x"}}},
        headers=headers,
        params={"wait": 10},
    )
    assert response.json()["status"] == "completed"
    assert usage(app, org_id) == 1
