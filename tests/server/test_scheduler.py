"""Active workflows on a clock: cron schedules fire once per due time (once across server
processes, one run for missed times), polling triggers poll at their interval."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from server import workflow_docs as docs
from server.apikit import Api, client_for, use_plugins
from server.test_workflows import WORKFLOWS, create, owner_headers

from docg_core.apps import BaseApp, BaseTrigger, TriggerItem, TriggerType
from docg_core.context import ExecutionContext
from docg_core.hookspecs import hookimpl
from docg_server.app import close_app, create_app
from docg_server.config import Settings
from docg_server.scheduler import POLL_INTERVAL_SECONDS

ITEMS: list[dict[str, Any]] = []


class NewThings(BaseTrigger):
    key = "new-things"
    name = "New things"
    trigger_type = TriggerType.POLLING

    async def poll(self, ctx: ExecutionContext) -> list[TriggerItem]:
        return [TriggerItem(dedupe_key=str(item["id"]), data=item) for item in ITEMS]


class ThingsApp(BaseApp):
    key = "things"
    name = "Things"
    triggers = (NewThings,)


class ThingsPlugin:
    @hookimpl
    def docg_apps(self) -> list[type[BaseApp]]:
        return [ThingsApp]


def scheduled(cron: str) -> dict[str, Any]:
    document = docs.simple("Every five minutes")
    document["trigger"] = {"app": "schedule", "key": "cron", "parameters": {"cron": cron}}
    document["nodes"] = [docs.upper("shout", "{{trigger.scheduled_at}}")]
    return document


async def activate(client: httpx.AsyncClient, headers: Any, document: dict[str, Any]) -> str:
    workflow = await create(client, headers, document)
    response = await client.post(f"{WORKFLOWS}/{workflow['id']}/activate", headers=headers)
    assert response.status_code == 200, response.text
    return str(workflow["id"])


async def run_list(client: httpx.AsyncClient, headers: Any, workflow_id: str) -> list[Any]:
    body = (await client.get(f"{WORKFLOWS}/{workflow_id}/runs", headers=headers)).json()
    items: list[Any] = body["items"]
    return items


async def test_a_cron_workflow_starts_once_per_due_time(
    api: Api, client: httpx.AsyncClient, app: FastAPI
) -> None:
    headers = await owner_headers(api)
    workflow_id = await activate(client, headers, scheduled("*/5 * * * *"))
    runtime = app.state.runtime
    now = datetime.now(UTC)
    await runtime.tick(now)  # nothing due right after activation (unless on a boundary)
    before = len(await run_list(client, headers, workflow_id))
    later = now + timedelta(minutes=5, seconds=1)
    await runtime.tick(later)
    await runtime.tick(later)  # the same due time again: nothing new
    runs = await run_list(client, headers, workflow_id)
    assert len(runs) == before + 1
    detail = await runtime.runner.wait(runs[0]["id"], timeout=10)
    assert detail.status == "completed"
    scheduled_at = datetime.fromisoformat(detail.trigger_data["scheduled_at"])
    assert scheduled_at.minute % 5 == 0 and scheduled_at <= later


async def test_missed_fire_times_start_one_run_not_a_burst(
    api: Api, client: httpx.AsyncClient, app: FastAPI
) -> None:
    headers = await owner_headers(api)
    workflow_id = await activate(client, headers, scheduled("* * * * *"))
    await app.state.runtime.tick(datetime.now(UTC) + timedelta(hours=3))
    assert len(await run_list(client, headers, workflow_id)) == 1


async def test_two_server_processes_start_a_due_time_once(
    api: Api, client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    headers = await owner_headers(api)
    workflow_id = await activate(client, headers, scheduled("*/5 * * * *"))
    other = create_app(settings)
    try:
        async with client_for(other):
            later = datetime.now(UTC) + timedelta(minutes=5, seconds=1)
            await asyncio.gather(app.state.runtime.tick(later), other.state.runtime.tick(later))
            runs = await run_list(client, headers, workflow_id)
            assert len(runs) == 1  # one fire time since activation, started by one process
    finally:
        await close_app(other)


async def test_a_paused_workflow_does_not_fire(
    api: Api, client: httpx.AsyncClient, app: FastAPI
) -> None:
    headers = await owner_headers(api)
    workflow_id = await activate(client, headers, scheduled("* * * * *"))
    await client.post(f"{WORKFLOWS}/{workflow_id}/pause", headers=headers)
    await app.state.runtime.tick(datetime.now(UTC) + timedelta(minutes=10))
    assert await run_list(client, headers, workflow_id) == []


async def test_a_polling_trigger_starts_one_run_per_new_item_at_its_interval(
    api: Api, client: httpx.AsyncClient, app: FastAPI
) -> None:
    use_plugins(app, ThingsPlugin())
    ITEMS[:] = [{"id": 1, "name": "one"}, {"id": 2, "name": "two"}]
    headers = await owner_headers(api)
    document = docs.simple("New things")
    document["trigger"] = {"app": "things", "key": "new-things"}
    workflow_id = await activate(client, headers, document)
    runtime = app.state.runtime
    now = datetime.now(UTC)
    await runtime.tick(now)
    assert len(await run_list(client, headers, workflow_id)) == 2
    ITEMS.append({"id": 3, "name": "three"})
    await runtime.tick(now + timedelta(seconds=10))  # within the interval: not polled
    assert len(await run_list(client, headers, workflow_id)) == 2
    await runtime.tick(now + timedelta(seconds=POLL_INTERVAL_SECONDS + 1))
    runs = await run_list(client, headers, workflow_id)
    assert len(runs) == 3
    newest = await runtime.runner.wait(runs[0]["id"], timeout=10)
    assert newest.trigger_data == {"id": 3, "name": "three"}
