"""``BaseApp.test_connection``: the optional hook a server calls to check a connection."""

from __future__ import annotations

import httpx
import pytest

from docg_core._http import http_factory
from docg_core.apps import AuthSpec, BaseApp
from docg_core.context import (
    AppInfo,
    ExecutionContext,
    ExecutionInfo,
    FlowInfo,
    StepInfo,
    build_context,
)
from docg_core.store import InMemoryStore


class Plain(BaseApp):
    key = "plain"
    name = "Plain"


class Checked(BaseApp):
    key = "checked"
    name = "Checked"
    base_url = "https://vendor.test"
    auth = AuthSpec.api_key()

    async def before_request(self, ctx: ExecutionContext, request: httpx.Request) -> None:
        request.headers["Authorization"] = f"Bearer {ctx.auth['api_key']}"

    async def test_connection(self, ctx: ExecutionContext) -> str:
        response = await ctx.http.get("/me")
        response.raise_for_status()
        return f"connected as {response.json()['email']}"


def context(app: BaseApp, auth: dict[str, str], transport: httpx.MockTransport) -> ExecutionContext:
    return build_context(
        store=InMemoryStore(),
        app=AppInfo(app.key, app.name),
        flow=FlowInfo(None, "connection test"),
        step=StepInfo("test", "test", app.key, "test-connection", {}, "test"),
        execution=ExecutionInfo("exec-1", test_run=True),
        auth=auth,
        http_factory=http_factory(app, transport=transport),
    )


def vendor(request: httpx.Request) -> httpx.Response:
    if request.headers.get("Authorization") != "Bearer good":
        return httpx.Response(401, json={"message": "invalid token"})
    return httpx.Response(200, json={"email": "ana@vendor.test"})


def test_only_an_app_that_overrides_the_hook_can_test_its_connections() -> None:
    assert Checked.can_test_connection() is True
    assert Plain.can_test_connection() is False
    assert Plain().can_test_connection() is False


async def test_the_default_hook_says_the_app_has_no_connection_test() -> None:
    ctx = context(Plain(), {}, httpx.MockTransport(vendor))
    with pytest.raises(NotImplementedError, match="app 'plain' has no connection test"):
        await Plain().test_connection(ctx)


async def test_an_overriding_hook_answers_a_message_or_raises_the_vendors_refusal() -> None:
    app = Checked()
    ok = context(app, {"api_key": "good"}, httpx.MockTransport(vendor))
    assert await app.test_connection(ok) == "connected as ana@vendor.test"
    await ok.aclose()

    refused = context(app, {"api_key": "bad"}, httpx.MockTransport(vendor))
    with pytest.raises(httpx.HTTPStatusError) as info:
        await app.test_connection(refused)
    assert info.value.response.status_code == 401
    await refused.aclose()
