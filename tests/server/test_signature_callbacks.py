"""POST /api/v1/signatures/{provider}/webhook: a signed vendor callback resumes the waiting
signature step — verified with the step's connection, applied once, ignored when stale."""

from __future__ import annotations

from typing import Any

import httpx
from fakes.clicksign import FakeClickSign
from fastapi import FastAPI
from server.apikit import Api, assert_problem, use_plugins
from server.test_workflows import WORKFLOWS, create, owner_headers

import docg_clicksign

WEBHOOK = "/api/v1/signatures/clicksign/webhook"
SECRET = "whsec-clicksign-test"


class Setup:
    def __init__(self, headers: Any, runs: str, run: dict[str, Any], fake: FakeClickSign) -> None:
        self.headers, self.runs, self.run, self.fake = headers, runs, run, fake

    @property
    def envelope_id(self) -> str:
        data: dict[str, Any] = self.run["steps"][0]["data_out"]["data"]
        return str(data["envelope_id"])


async def waiting_signature(api: Api, client: httpx.AsyncClient, app: FastAPI) -> Setup:
    use_plugins(app, docg_clicksign)
    fake = FakeClickSign()
    fake.webhook_secret = SECRET
    app.state.runtime.engine.http_transport = fake.transport()
    headers = await owner_headers(api)
    org = (await client.get("/api/v1/organizations/me", headers=headers)).json()
    key = f"docg/{org['id']}/outputs/contract.pdf"
    await app.state.storage.put(key, b"%PDF-1.4\n%%EOF\n", content_type="application/pdf")
    created = await client.post(
        "/api/v1/connections",
        json={
            "app_key": "clicksign",
            "name": "clicksign-main",
            "credentials": {
                "api_token": fake.token,
                "environment": "sandbox",
                "webhook_secret": SECRET,
            },
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    workflow = await create(
        client,
        headers,
        {
            "name": "Sign the contract",
            "trigger": {"app": "manual", "key": "manual"},
            "nodes": [
                {
                    "id": "sign",
                    "app": "clicksign",
                    "action": "send-for-signature",
                    "connection": "clicksign-main",
                    "parameters": {
                        "document": key,
                        "signers": [{"name": "Ana Souza", "email": "ana@client.example"}],
                    },
                }
            ],
        },
    )
    runs = f"{WORKFLOWS}/{workflow['id']}/runs"
    response = await client.post(runs, json={"data": {}}, headers=headers, params={"wait": 10})
    run = response.json()
    assert run["status"] == "waiting", run
    return Setup(headers, runs, run, fake)


async def test_a_signed_callback_resumes_the_step_and_the_signed_pdf_is_kept(
    api: Api, client: httpx.AsyncClient, app: FastAPI
) -> None:
    setup = await waiting_signature(api, client, app)
    setup.fake.sign(setup.envelope_id, "ana@client.example")
    body, headers = setup.fake.webhook(setup.envelope_id, "auto_close")
    response = await client.post(WEBHOOK, content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"resumed": 1, "ignored": 0}
    final = await app.state.runtime.runner.wait(setup.run["id"], timeout=10)
    assert final.status == "completed", final.error
    data = final.step("sign").data_out["data"]
    assert data["status"] == "signed"
    assert await app.state.storage.exists(data["signed_file_key"])
    # The same delivery again, or any later one, changes nothing.
    again = await client.post(WEBHOOK, content=body, headers=headers)
    assert again.json() == {"resumed": 0, "ignored": 1}


async def test_a_forged_callback_is_refused_and_the_step_keeps_waiting(
    api: Api, client: httpx.AsyncClient, app: FastAPI
) -> None:
    setup = await waiting_signature(api, client, app)
    body, headers = setup.fake.webhook(setup.envelope_id, "auto_close")
    forged = {**headers, "Content-Hmac": "sha256=" + "0" * 64}
    assert_problem(
        await client.post(WEBHOOK, content=body, headers=forged), 401, "invalid-signature"
    )
    tampered = body.replace(b"auto_close", b"cancel")
    assert_problem(
        await client.post(WEBHOOK, content=tampered, headers=headers), 401, "invalid-signature"
    )
    run = (await client.get(f"{setup.runs}/{setup.run['id']}", headers=setup.headers)).json()
    assert run["status"] == "waiting"


async def test_a_callback_for_an_unknown_envelope_or_app_changes_nothing(
    api: Api, client: httpx.AsyncClient, app: FastAPI
) -> None:
    setup = await waiting_signature(api, client, app)
    other = setup.fake.add_envelope(signers=[{"name": "X Y", "email": "x@y.example"}]).id
    body, headers = setup.fake.webhook(other, "auto_close")
    response = await client.post(WEBHOOK, content=body, headers=headers)
    assert response.json() == {"resumed": 0, "ignored": 1}
    assert_problem(
        await client.post("/api/v1/signatures/nope/webhook", content=b"{}"), 404, "not-found"
    )
