"""ctx.refresh_auth: a step whose token the vendor rejected gets refreshed credentials from the
engine's connection provider (the server's refreshes once per connection and stores them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from support.apps import Sleeps, flow

from docg_core.apps import ActionResult, BaseAction, BaseApp
from docg_core.context import ExecutionContext
from docg_core.engine import Engine
from docg_core.hookspecs import hookimpl
from docg_core.plugins import get_registry


class Refreshing(BaseAction):
    """Asks for new credentials as if its token had been rejected."""

    key = "refreshing"
    name = "Refreshing"

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        before = dict(ctx.auth)
        new = await ctx.refresh_auth(str(ctx.auth.get("access_token")))
        return ActionResult(
            data={"before": before, "new": dict(new) if new else None, "after": dict(ctx.auth)}
        )


class VendorApp(BaseApp):
    key = "vendor"
    name = "Vendor"
    actions = (Refreshing,)


class VendorPlugin:
    @hookimpl
    def docg_apps(self) -> list[type[BaseApp]]:
        return [VendorApp]


class RefreshingConnections:
    def __init__(self) -> None:
        self.refreshed: list[tuple[str, str, str | None, str]] = []

    async def get_credentials(
        self, connection_id: str, *, app_key: str, organization_id: str | None
    ) -> Mapping[str, Any]:
        return {"access_token": "old"}

    async def refresh_rejected(
        self, connection_id: str, *, app_key: str, organization_id: str | None, access_token: str
    ) -> Mapping[str, Any]:
        self.refreshed.append((connection_id, app_key, organization_id, access_token))
        return {"access_token": "new"}


class PlainConnections:
    async def get_credentials(
        self, connection_id: str, *, app_key: str, organization_id: str | None
    ) -> Mapping[str, Any]:
        return {"access_token": "old"}


NODE = {"id": "call", "app": "vendor", "action": "refreshing", "connection": "crm"}


async def test_the_provider_refreshes_the_rejected_token_and_the_step_uses_the_result(
    sleeps: Sleeps,
) -> None:
    connections = RefreshingConnections()
    engine = Engine(
        registry=get_registry(extra=[VendorPlugin()]), connections=connections, sleep=sleeps
    )
    execution = await engine.run(flow(NODE), {}, organization_id="org-1")
    data = execution.step("call").data_out["data"]
    assert data["before"] == {"access_token": "old"}
    assert data["new"] == data["after"] == {"access_token": "new"}
    assert connections.refreshed == [("crm", "vendor", "org-1", "old")]


async def test_without_a_refreshing_provider_the_app_is_told_to_refresh_by_itself(
    sleeps: Sleeps,
) -> None:
    engine = Engine(
        registry=get_registry(extra=[VendorPlugin()]),
        connections=PlainConnections(),
        sleep=sleeps,
    )
    execution = await engine.run(flow(NODE), {})
    data = execution.step("call").data_out["data"]
    assert data["new"] is None and data["after"] == {"access_token": "old"}
