"""Helpers for testing actions and plugins without a workflow or a server."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from ._http import http_factory
from .apps import ActionResult, BaseAction, BaseApp, validate_arguments
from .context import AppInfo, ExecutionInfo, FlowInfo, StepInfo, build_context
from .storage import Storage
from .store import ExecutionStore, InMemoryStore

__all__ = ["run_action"]


async def run_action(
    app: BaseApp,
    action: type[BaseAction],
    parameters: Mapping[str, Any],
    *,
    auth: Mapping[str, Any] | None = None,
    trigger_output: Any = None,
    action_output: Mapping[str, Any] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    store: ExecutionStore | None = None,
    storage: Storage | None = None,
    template_filters: Mapping[str, Callable[..., Any]] | None = None,
    execution_id: str | None = None,
    organization_id: str | None = None,
    node_id: str = "step",
) -> ActionResult:
    """Validate ``parameters`` (already resolved) and run one action as the engine would.

    ``transport`` replaces the network for ``ctx.http`` (e.g. ``httpx.MockTransport(fake)``).
    """
    execution_id = execution_id or str(uuid.uuid4())
    params = validate_arguments(action.arguments, parameters, node_id=node_id)
    ctx = build_context(
        store=store or InMemoryStore(),
        app=AppInfo(app.key, app.name),
        flow=FlowInfo(None, "test"),
        step=StepInfo(
            id=node_id,
            key=node_id,
            app=app.key,
            action=action.key,
            parameters=params,
            idempotency_key=f"{execution_id}:{node_id}",
        ),
        execution=ExecutionInfo(execution_id, test_run=True, organization_id=organization_id),
        auth=auth,
        trigger_output=trigger_output,
        action_output=action_output,
        storage=storage,
        template_filters=template_filters,
        http_factory=http_factory(app, transport=transport),
    )
    try:
        return await action().run(ctx)
    finally:
        await ctx.aclose()
