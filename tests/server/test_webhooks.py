"""POST /api/v1/webhooks/{workflow_id}/{token}: secret URL, body rules, sync, signatures."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Mapping
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from server import workflow_docs as docs
from server.apikit import Api, assert_problem
from server.test_workflows import WORKFLOWS, create, owner_headers

from docg_core.apps import ActionArgument, BaseApp, BaseTrigger
from docg_core.callbacks import CallbackRejected, InboundRequest
from docg_core.hookspecs import hookimpl
from docg_core.plugins import get_registry


class SignedHook(BaseTrigger):
    """Accepts a request only with ``X-Signature: hex(HMAC-SHA256(secret, body))``."""

    key = "signed"
    name = "Signed webhook"
    arguments = (ActionArgument(key="secret", label="Secret", secret=True),)

    def verify_request(
        self, request: InboundRequest, credentials: Mapping[str, Any], parameters: Mapping[str, Any]
    ) -> None:
        expected = hmac.new(parameters["secret"].encode(), request.body, hashlib.sha256)
        if not hmac.compare_digest(expected.hexdigest(), request.header("X-Signature") or ""):
            raise CallbackRejected("X-Signature does not match the body")


class SignedApp(BaseApp):
    key = "signed"
    name = "Signed"
    triggers = (SignedHook,)


class SignedPlugin:
    @hookimpl
    def docg_apps(self) -> list[type[BaseApp]]:
        return [SignedApp]


async def active(
    api: Api, client: httpx.AsyncClient, document: dict[str, Any] | None = None
) -> tuple[Any, dict[str, Any]]:
    headers = await owner_headers(api)
    body = await create(client, headers, document or docs.simple())
    response = await client.post(f"{WORKFLOWS}/{body['id']}/activate", headers=headers)
    assert response.status_code == 200, response.text
    return headers, body


def hook_path(workflow: dict[str, Any]) -> str:
    return str(httpx.URL(workflow["webhook_url"]).path)


async def test_a_webhook_starts_the_workflow_with_its_body(
    api: Api, client: httpx.AsyncClient, app: FastAPI
) -> None:
    headers, workflow = await active(api, client)
    response = await client.post(hook_path(workflow), json={"name": "acme"})
    assert response.status_code == 202, response.text
    body = response.json()
    assert set(body) >= {"execution_id", "status"}
    execution = await app.state.runtime.runner.wait(body["execution_id"], timeout=10)
    assert execution.status == "completed"
    assert execution.trigger_data == {"name": "acme"}
    assert execution.step("shout").data_out["data"] == {"value": "ACME"}
    runs = await client.get(f"{WORKFLOWS}/{workflow['id']}/runs", headers=headers)
    assert [r["id"] for r in runs.json()["items"]] == [body["execution_id"]]


async def test_sync_waits_and_answers_the_result(api: Api, client: httpx.AsyncClient) -> None:
    _, workflow = await active(api, client)
    response = await client.post(
        hook_path(workflow), json={"name": "acme"}, params={"sync": "true"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "completed"
    assert body["result"] == {"value": "ACME"}
    assert body["error"] is None


async def test_a_form_body_is_accepted(api: Api, client: httpx.AsyncClient) -> None:
    _, workflow = await active(api, client)
    response = await client.post(
        hook_path(workflow), data={"name": "form"}, params={"sync": "true"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["result"] == {"value": "FORM"}


async def test_a_wrong_token_and_an_unknown_workflow_answer_the_same_404(
    api: Api, client: httpx.AsyncClient
) -> None:
    _, workflow = await active(api, client)
    wrong = f"/api/v1/webhooks/{workflow['id']}/{'x' * 43}"
    unknown = f"/api/v1/webhooks/{uuid.uuid4()}/{hook_path(workflow).rsplit('/', 1)[1]}"
    first = assert_problem(await client.post(wrong, json={}), 404, "not-found")
    second = assert_problem(await client.post(unknown, json={}), 404, "not-found")
    assert first["detail"] == second["detail"] == "there is no webhook at this URL"


async def test_an_inactive_workflow_refuses_webhooks(api: Api, client: httpx.AsyncClient) -> None:
    headers = await owner_headers(api)
    draft = await create(client, headers, docs.simple())
    response = await client.post(hook_path(draft), json={})
    assert_problem(response, 409, "workflow-not-active")


@pytest.mark.parametrize(
    ("content", "content_type", "status", "slug"),
    [
        (b"{not json", "application/json", 422, "invalid-body"),
        (b"<xml/>", "application/xml", 415, "unsupported-media-type"),
        (b"{}" + b" " * (1024 * 1024), "application/json", 413, "payload-too-large"),
    ],
)
async def test_bodies_that_cannot_be_used_are_clear_problems(
    api: Api, client: httpx.AsyncClient, content: bytes, content_type: str, status: int, slug: str
) -> None:
    _, workflow = await active(api, client)
    response = await client.post(
        hook_path(workflow), content=content, headers={"Content-Type": content_type}
    )
    assert_problem(response, status, slug)


async def test_a_body_the_trigger_refuses_is_a_422(api: Api, client: httpx.AsyncClient) -> None:
    _, workflow = await active(api, client)
    response = await client.post(hook_path(workflow), json=[1, 2])
    body = assert_problem(response, 422, "invalid-workflow")
    assert body["problems"][0]["field"] == "trigger"


async def test_a_retried_delivery_with_the_same_idempotency_key_runs_once(
    api: Api, client: httpx.AsyncClient, app: FastAPI
) -> None:
    headers, workflow = await active(api, client)
    key = {"Idempotency-Key": "delivery-1"}
    first = await client.post(hook_path(workflow), json={"name": "a"}, headers=key)
    await app.state.runtime.runner.wait(first.json()["execution_id"], timeout=10)
    again = await client.post(hook_path(workflow), json={"name": "a"}, headers=key)
    other = await client.post(
        hook_path(workflow), json={"name": "a"}, headers={"Idempotency-Key": "delivery-2"}
    )
    assert again.json()["execution_id"] == first.json()["execution_id"]
    assert other.json()["execution_id"] != first.json()["execution_id"]
    await app.state.runtime.runner.wait(other.json()["execution_id"], timeout=10)
    runs = await client.get(f"{WORKFLOWS}/{workflow['id']}/runs", headers=headers)
    assert len(runs.json()["items"]) == 2


async def test_a_signed_trigger_accepts_only_correctly_signed_requests(
    api: Api, client: httpx.AsyncClient, app: FastAPI
) -> None:
    registry = get_registry(extra=[SignedPlugin()])
    app.state.registry = registry
    app.state.runtime.engine.registry = registry
    document = docs.simple()
    document["trigger"] = {"app": "signed", "key": "signed", "parameters": {"secret": "s3cret"}}
    _, workflow = await active(api, client, document)
    payload = b'{"name": "signed"}'
    good = hmac.new(b"s3cret", payload, hashlib.sha256).hexdigest()
    json_type = {"Content-Type": "application/json"}
    forged = await client.post(
        hook_path(workflow), content=payload, headers={**json_type, "X-Signature": "0" * 64}
    )
    assert_problem(forged, 401, "invalid-signature")
    accepted = await client.post(
        hook_path(workflow),
        content=payload,
        headers={**json_type, "X-Signature": good},
        params={"sync": "true"},
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["result"] == {"value": "SIGNED"}


async def test_a_webhook_after_an_edit_runs_the_new_document(
    api: Api, client: httpx.AsyncClient
) -> None:
    headers, workflow = await active(api, client)
    first = await client.post(hook_path(workflow), json={"name": "acme"}, params={"sync": "true"})
    assert first.json()["result"] == {"value": "ACME"}
    document = docs.simple()
    document["nodes"] = [
        {**docs.upper("shout"), "parameters": {"transform": "lower", "input": "{{trigger.name}}"}}
    ]
    edited = await client.put(f"{WORKFLOWS}/{workflow['id']}", json=document, headers=headers)
    assert edited.status_code == 200, edited.text
    second = await client.post(hook_path(workflow), json={"name": "ACME"}, params={"sync": "true"})
    assert second.json()["result"] == {"value": "acme"}
