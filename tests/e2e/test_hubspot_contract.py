"""The product's main flow, end to end over HTTP, every vendor faked: a HubSpot deal closes →
AI writes two clauses → a contract (Word + PDF, real LibreOffice) → ClickSign → the signer
signs → the signed PDF is filed on the deal. The workflow is docs/examples/hubspot-contract.yaml."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import importlib.util
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import yaml
from e2e.conftest import Vendors
from fakes.ai import API_KEYS, FakeAI
from fakes.clicksign import SIGNATURE_MARK, FakeClickSign
from fakes.hubspot import CLIENT_SECRET, PORTAL_ID, PRIVATE_APP_TOKEN, FakeHubSpot, seed_deal
from fastapi import FastAPI
from server.apikit import Api, bearer, use_plugins

import docg_ai
import docg_clicksign
import docg_documents
import docg_hubspot
from docg_core import check_workflow
from docg_core.plugins import get_registry
from docg_core.workflow import load_workflow
from docg_server.models import GeneratedDocument

EXAMPLES = Path(__file__).parents[2] / "docs" / "examples"
WORKFLOW_FILE = EXAMPLES / "hubspot-contract.yaml"
PLUGINS = (docg_hubspot, docg_ai, docg_documents, docg_clicksign)
CLICKSIGN_SECRET = "cs-webhook-secret-e2e"


def template() -> bytes:
    """The example's template, from its builder next to the workflow."""
    path = EXAMPLES / "hubspot-contract" / "build_template.py"
    spec = importlib.util.spec_from_file_location("hubspot_contract_template", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    data: bytes = module.build()
    return data


def test_the_example_workflow_is_valid_against_the_registry_with_the_plugins() -> None:
    workflow = load_workflow(yaml.safe_load(WORKFLOW_FILE.read_text(encoding="utf-8")))
    assert check_workflow(workflow, get_registry(plugins=[], extra=list(PLUGINS))) == []
    assert [node.id for node in workflow.nodes] == ["deal", "clauses", "contract", "sign", "attach"]


def hubspot_webhook(url: str, deal_id: str) -> tuple[bytes, dict[str, str]]:
    """A deal.propertyChange delivery signed as HubSpot signs it (v3): base64 HMAC-SHA256 of
    method + URI + body + timestamp under the app's client secret."""
    occurred = int(time.time() * 1000)
    body = json.dumps(
        [
            {
                "eventId": 4001,
                "subscriptionId": 9001,
                "portalId": PORTAL_ID,
                "appId": 5001,
                "occurredAt": occurred,
                "subscriptionType": "deal.propertyChange",
                "attemptNumber": 0,
                "objectId": int(deal_id),
                "propertyName": "dealstage",
                "propertyValue": "closedwon",
                "changeSource": "CRM_UI",
            }
        ]
    ).encode()
    timestamp = str(occurred)
    message = b"POST" + url.encode() + body + timestamp.encode()
    digest = hmac.new(CLIENT_SECRET.encode(), message, hashlib.sha256).digest()
    return body, {
        "Content-Type": "application/json",
        "X-HubSpot-Signature-v3": base64.b64encode(digest).decode(),
        "X-HubSpot-Request-Timestamp": timestamp,
    }


async def run_until(
    client: httpx.AsyncClient, headers: Any, path: str, status: str, seconds: float = 60
) -> dict[str, Any]:
    """Poll the run's detail until it has ``status`` (failing at once if it failed)."""
    deadline = time.monotonic() + seconds
    while True:
        run: dict[str, Any] = (await client.get(path, headers=headers)).json()
        if run["status"] == status:
            return run
        assert run["status"] not in ("failed", "cancelled"), run
        assert time.monotonic() < deadline, f"still {run['status']} after {seconds}s"
        await asyncio.sleep(0.1)


async def connect(
    client: httpx.AsyncClient, headers: Any, app_key: str, name: str, **creds: Any
) -> None:
    body = {"app_key": app_key, "name": name, "credentials": creds}
    response = await client.post("/api/v1/connections", json=body, headers=headers)
    assert response.status_code == 201, response.text


@pytest.mark.soffice
@pytest.mark.slow
async def test_a_won_deal_becomes_a_signed_contract_on_the_deal(
    api: Api, client: httpx.AsyncClient, app: FastAPI
) -> None:
    use_plugins(app, *PLUGINS)
    hubspot, ai, clicksign = FakeHubSpot(), FakeAI(), FakeClickSign(webhook_secret=CLICKSIGN_SECRET)
    ids = seed_deal(hubspot)
    app.state.runtime.engine.http_transport = Vendors(
        {
            "api.hubapi.com": hubspot.transport(),
            "api.openai.com": ai.transport,
            "clicksign.com": clicksign.transport(),
            "clicksign-content-sandbox.s3.amazonaws.com": clicksign.transport(),
        }
    )

    # Sign up; connect HubSpot (private app), the AI provider and ClickSign.
    await api.register("ana@acme.example", org="Acme")
    headers = bearer((await api.login("ana@acme.example"))["access_token"])
    await connect(
        client, headers, "hubspot", "hubspot-main",
        private_app_token=PRIVATE_APP_TOKEN, client_secret=CLIENT_SECRET,
    )  # fmt: skip
    await connect(client, headers, "ai", "ai-main", provider="openai", api_key=API_KEYS["openai"])
    await connect(
        client, headers, "clicksign", "clicksign-main",
        api_token=clicksign.token, environment="sandbox", webhook_secret=CLICKSIGN_SECRET,
    )  # fmt: skip

    # Upload the template; create and activate the example workflow pointing at it.
    uploaded = await client.post(
        "/api/v1/templates",
        files={"file": ("contrato.docx", template())},
        data={"name": "Contrato HubSpot"},
        headers=headers,
    )
    assert uploaded.status_code == 201, uploaded.text
    assert "clauses.clausula_pagamento" in uploaded.json()["variables"]
    text = WORKFLOW_FILE.read_text(encoding="utf-8")
    document = yaml.safe_load(text.replace("TEMPLATE_KEY", uploaded.json()["storage_key"]))
    created = await client.post("/api/v1/workflows", json=document, headers=headers)
    assert created.status_code == 201, created.text
    workflow = created.json()
    activated = await client.post(f"/api/v1/workflows/{workflow['id']}/activate", headers=headers)
    assert activated.status_code == 200, activated.text

    # HubSpot reports the deal closing, signed with the app's client secret.
    body, hook_headers = hubspot_webhook(workflow["webhook_url"], ids["deal"])
    hook = httpx.URL(workflow["webhook_url"]).path
    forged = {**hook_headers, "X-HubSpot-Signature-v3": base64.b64encode(b"x" * 32).decode()}
    assert (await client.post(hook, content=body, headers=forged)).status_code == 401
    started = await client.post(hook, content=body, headers=hook_headers)
    assert started.status_code == 202, started.text
    run_path = f"/api/v1/workflows/{workflow['id']}/runs/{started.json()['execution_id']}"

    # Deal read, clauses written, contract made, envelope sent: the run waits for ClickSign.
    run = await run_until(client, headers, run_path, "waiting")
    steps = {step["node_id"]: step for step in run["steps"]}
    deal = steps["deal"]["data_out"]["data"]
    assert deal["properties"]["dealname"] == "Acme renewal"
    assert len(deal["associations"]["line_items"]) == 2
    clauses = steps["clauses"]["data_out"]["data"]
    assert set(clauses) == {"clausula_objeto", "clausula_pagamento"}
    assert "Acme Ltda" in clauses["clausula_objeto"]  # the prompt saw the deal's company
    [prompt] = [c.json for c in ai.generations("openai") if "objeto" in json.dumps(c.json)]
    assert "Acme renewal" in json.dumps(prompt, ensure_ascii=False)
    contract = steps["contract"]["data_out"]["data"]
    assert contract["pages"] >= 1 and contract["missing_variables"] == []
    pdf = await app.state.storage.get(contract["pdf_key"])
    assert pdf.startswith(b"%PDF")
    sign = steps["sign"]
    assert sign["status"] == "waiting" and sign["wait"]["reason"]
    envelope_id = sign["data_out"]["data"]["envelope_id"]
    [signer] = clicksign.envelopes[envelope_id].signers.values()
    assert (signer["name"], signer["email"]) == ("Ana Lima", "ana@acme.example")

    # The client signs; ClickSign's signed webhook resumes the run.
    clicksign.sign(envelope_id, "ana@acme.example")
    cs_body, cs_headers = clicksign.webhook(envelope_id, "auto_close")
    resumed = await client.post(
        "/api/v1/signatures/clicksign/webhook", content=cs_body, headers=cs_headers
    )
    assert resumed.json() == {"resumed": 1, "ignored": 0}
    run = await run_until(client, headers, run_path, "completed")

    # The signed PDF is on the deal, as a note with the file attached.
    steps = {step["node_id"]: step for step in run["steps"]}
    assert [s["status"] for s in run["steps"]] == ["success"] * 5
    signed_key = steps["sign"]["data_out"]["data"]["signed_file_key"]
    [note] = hubspot.notes_for("deals", ids["deal"])
    [file_id] = str(note["properties"]["hs_attachment_ids"]).split(";")
    stored = hubspot.file(file_id)
    assert stored["content"] == await app.state.storage.get(signed_key)
    assert SIGNATURE_MARK in stored["content"]
    assert stored["name"].startswith("Contrato assinado Acme renewal")

    # One document recorded with its lineage, counted once against the plan.
    listed = (await client.get("/api/v1/documents", headers=headers)).json()["items"]
    assert [(d["execution_id"], d["node_id"]) for d in listed] == [(run["id"], "contract")]
    assert listed[0]["template"]["key"] == uploaded.json()["storage_key"]
    with app.state.session_factory() as session:
        rows = session.scalars(sa.select(GeneratedDocument)).all()
    assert [(r.pdf_key, str(r.execution_id)) for r in rows] == [(contract["pdf_key"], run["id"])]
    org = (await client.get("/api/v1/organizations/me", headers=headers)).json()
    assert org["documents_used"] == 1
