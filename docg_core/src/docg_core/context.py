"""The ExecutionContext (``$``) every action receives, and its parts."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

    from .storage import Storage
    from .store import ExecutionStore

__all__ = [
    "AppInfo",
    "CredentialsRefresher",
    "Datastore",
    "ExecutionContext",
    "ExecutionInfo",
    "FlowInfo",
    "StepInfo",
    "build_context",
]

logger = logging.getLogger("docg")


@dataclass(frozen=True)
class AppInfo:
    key: str
    name: str


@dataclass(frozen=True)
class FlowInfo:
    id: str | None
    name: str
    version: int = 1


@dataclass(frozen=True)
class StepInfo:
    """The running step. ``parameters`` are resolved and validated; ``idempotency_key`` is
    stable across retries and resumes of this step (execution id + step key), so a side effect
    keyed by it never happens twice."""

    id: str
    key: str
    app: str
    action: str
    parameters: Mapping[str, Any]
    idempotency_key: str
    attempt: int = 1


@dataclass(frozen=True)
class ExecutionInfo:
    """The running execution. ``organization_id`` is the tenant it runs for (None when
    embedded without tenants); storage keys and lookups are scoped to it."""

    id: str
    test_run: bool = False
    organization_id: str | None = None


class Datastore:
    """Persistent key-value storage scoped to one flow: ``await ctx.datastore.get(key)``."""

    def __init__(self, store: ExecutionStore, scope: str) -> None:
        self._store = store
        self._scope = scope

    async def get(self, key: str, default: Any = None) -> Any:
        value = await self._store.datastore_get(self._scope, key)
        return default if value is None else value

    async def set(self, key: str, value: Any) -> None:
        await self._store.datastore_set(self._scope, key, value)

    async def delete(self, key: str) -> None:
        await self._store.datastore_delete(self._scope, key)


class ExecutionContext:
    """Everything an action may use, passed as its only argument (``$`` in the design).

    ``http`` is created on first use (so actions that never call out pay nothing), prepared by
    the app's ``before_request`` and base URL, and closed when the step ends.
    ``storage`` holds files (templates, documents); ``template_filters`` are the Jinja filters
    plugins registered through the ``docg_template_filters`` hook.
    """

    def __init__(
        self,
        *,
        auth: Mapping[str, Any],
        app: AppInfo,
        flow: FlowInfo,
        step: StepInfo,
        execution: ExecutionInfo,
        trigger_output: Any,
        action_output: Mapping[str, Any],
        datastore: Datastore,
        storage: Storage | None = None,
        template_filters: Mapping[str, Callable[..., Any]] | None = None,
        http_factory: Callable[[ExecutionContext], httpx.AsyncClient] | None = None,
        log: logging.Logger | logging.LoggerAdapter[logging.Logger] | None = None,
        credentials_refresher: CredentialsRefresher | None = None,
    ) -> None:
        self.auth = auth
        self.app = app
        self.flow = flow
        self.step = step
        self.execution = execution
        self.trigger_output = trigger_output
        self.action_output = action_output
        self.datastore = datastore
        self.storage = storage
        self.template_filters: Mapping[str, Callable[..., Any]] = template_filters or {}
        self.logger = log or logging.LoggerAdapter(
            logger, {"execution_id": execution.id, "step_id": step.key}
        )
        self._http_factory = http_factory
        self._http: httpx.AsyncClient | None = None
        self._credentials_refresher = credentials_refresher

    async def refresh_auth(self, rejected_access_token: str) -> Mapping[str, Any] | None:
        """New credentials after the vendor rejected ``rejected_access_token`` (HTTP 401).

        Where the engine's connection provider can refresh (the server: once per connection
        across processes, and stored), it does, and ``ctx.auth`` becomes the result; None
        means it cannot, and the app may refresh by itself for this step.
        """
        if self._credentials_refresher is None:
            return None
        credentials = await self._credentials_refresher(rejected_access_token)
        self.auth = credentials
        return credentials

    @property
    def http(self) -> httpx.AsyncClient:
        """An httpx.AsyncClient with timeouts, the app's base URL and auth applied."""
        if self._http is None:
            if self._http_factory is None:
                import httpx

                self._http = httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0))
            else:
                self._http = self._http_factory(self)
        return self._http

    async def aclose(self) -> None:
        """Close the HTTP client if one was opened."""
        if self._http is not None:
            await self._http.aclose()
            self._http = None


CredentialsRefresher = Callable[[str], Awaitable[Mapping[str, Any]]]
"""Given the access token a vendor rejected, the connection's refreshed credentials."""


def build_context(
    *,
    store: ExecutionStore,
    app: AppInfo,
    flow: FlowInfo,
    step: StepInfo,
    execution: ExecutionInfo,
    auth: Mapping[str, Any] | None = None,
    trigger_output: Any = None,
    action_output: Mapping[str, Any] | None = None,
    storage: Storage | None = None,
    template_filters: Mapping[str, Callable[..., Any]] | None = None,
    http_factory: Callable[[ExecutionContext], httpx.AsyncClient] | None = None,
    credentials_refresher: CredentialsRefresher | None = None,
) -> ExecutionContext:
    """Assemble the context for one step; the datastore is scoped to the flow."""
    return ExecutionContext(
        auth=auth or {},
        app=app,
        flow=flow,
        step=step,
        execution=execution,
        trigger_output=trigger_output if trigger_output is not None else {},
        action_output=action_output or {},
        datastore=Datastore(store, flow.id or flow.name),
        storage=storage,
        template_filters=template_filters,
        http_factory=http_factory,
        credentials_refresher=credentials_refresher,
    )
