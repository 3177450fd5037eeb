"""A vendor rejecting a connection's OAuth token mid-run: the step gets a refreshed token from
the server (one refresh, stored encrypted for the next run) and goes on."""

from __future__ import annotations

from typing import Any

import httpx
from fakes.hubspot import ACCESS_TOKEN, FakeHubSpot, oauth_credentials, seed_deal
from fastapi import FastAPI
from server.apikit import Api, use_plugins
from server.test_workflows import WORKFLOWS, create, owner_headers

import docg_hubspot
from docg_server.config import Settings
from docg_server.oauth import TokenRefresher


async def test_a_rejected_token_is_refreshed_once_stored_and_the_step_succeeds(
    api: Api, client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    use_plugins(app, docg_hubspot)
    fake = FakeHubSpot()
    ids = seed_deal(fake)
    engine = app.state.runtime.engine
    engine.http_transport = fake.transport()
    engine.connections.refresher = TokenRefresher(
        app.state.session_factory,
        settings.keyring(),
        settings=settings,
        transport=fake.transport(),
    )
    headers = await owner_headers(api)
    org = (await client.get("/api/v1/organizations/me", headers=headers)).json()
    created = await client.post(
        "/api/v1/connections",
        json={"app_key": "hubspot", "name": "hubspot-main", "credentials": oauth_credentials()},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    fake.expire(ACCESS_TOKEN)  # still "valid" by its expiry time, but HubSpot answers 401
    workflow = await create(
        client,
        headers,
        {
            "name": "Read the deal",
            "trigger": {"app": "manual", "key": "manual"},
            "nodes": [
                {
                    "id": "deal",
                    "app": "hubspot",
                    "action": "get-object",
                    "connection": "hubspot-main",
                    "parameters": {"object_type": "deals", "object_id": ids["deal"]},
                }
            ],
        },
    )
    runs = f"{WORKFLOWS}/{workflow['id']}/runs"

    async def run() -> dict[str, Any]:
        response = await client.post(runs, json={"data": {}}, headers=headers, params={"wait": 10})
        body: dict[str, Any] = response.json()
        return body

    first = await run()
    assert first["status"] == "completed", first["error"]
    token_calls = fake.requests_to("POST", "/oauth/v1/token")
    assert len(token_calls) == 1
    stored = await engine.connections.get_credentials(
        "hubspot-main", app_key="hubspot", organization_id=org["id"]
    )
    assert stored["access_token"] not in (None, ACCESS_TOKEN)
    second = await run()
    assert second["status"] == "completed"
    assert len(fake.requests_to("POST", "/oauth/v1/token")) == 1  # the stored token is used
