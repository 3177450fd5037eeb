"""The FastAPI application: :func:`create_app` builds one from :class:`~.config.Settings`.

``uvicorn --factory docg_server.app:create_app`` (or ``docg serve``) runs it with the settings
from the environment. Tests pass their own settings.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema

from docg_core.plugins import get_registry

from . import __version__
from .api import health
from .api.v1 import API_PREFIX, api_router
from .config import Settings, get_settings
from .connections import DatabaseConnections
from .db import create_db_engine, session_factory
from .errors import Problem, install_exception_handlers
from .inbound.hubspot_actions import install as install_hubspot_completion
from .middleware import REQUEST_ID_HEADER, RequestContextMiddleware
from .oauth import TokenRefresher
from .runtime import Runtime
from .storage import build_storage

__all__ = ["DOCS_URL", "OPENAPI_URL", "close_app", "create_app"]

OPENAPI_URL = f"{API_PREFIX}/openapi.json"
DOCS_URL = f"{API_PREFIX}/docs"


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new application with its own database engine (disposed when the app shuts down).

    :param settings: defaults to :func:`~.config.get_settings` (the environment).
    """
    settings = settings or get_settings()
    engine = create_db_engine(
        settings.DATABASE_URL,
        pool_size=settings.DATABASE_POOL_SIZE,
        max_overflow=settings.DATABASE_MAX_OVERFLOW,
        pool_timeout=settings.DATABASE_POOL_TIMEOUT_SECONDS,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        timers = asyncio.create_task(app.state.runtime.run_timers(), name="docg-timers")
        try:
            yield
        finally:
            timers.cancel()
            await close_app(app)

    app = FastAPI(
        title="DocG API",
        version=__version__,
        summary="Workflows that turn data into documents.",
        openapi_url=OPENAPI_URL,
        docs_url=DOCS_URL,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = session_factory(engine)
    # Loading plugins imports them: once per application, not per request.
    app.state.registry = get_registry()
    app.state.storage = build_storage(settings, base_url=settings.PUBLIC_URL)
    app.state.runtime = Runtime(
        settings,
        registry=app.state.registry,
        storage=app.state.storage,
        session_factory=app.state.session_factory,
        connections=DatabaseConnections(
            app.state.session_factory,
            settings.keyring(),
            refresher=TokenRefresher(
                app.state.session_factory, settings.keyring(), settings=settings
            ),
        ),
    )
    # Runs started by HubSpot workflow actions report back to HubSpot when they finish,
    # including runs started before this process did.
    install_hubspot_completion(app.state.runtime, app.state.session_factory)

    install_exception_handlers(app)
    app.include_router(health.router)
    app.include_router(api_router)

    # Added first, so it sits inside CORS: CORS headers reach every answer, errors included.
    app.add_middleware(
        RequestContextMiddleware,
        hsts=settings.is_production,
        csp_exempt=frozenset({DOCS_URL}),
    )
    if settings.CORS_ORIGINS:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.CORS_ORIGINS,
            allow_credentials=False,  # bearer tokens, not cookies
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", REQUEST_ID_HEADER],
            expose_headers=[REQUEST_ID_HEADER, "Retry-After", "WWW-Authenticate"],
        )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                routes=app.routes,
            )
            # Problem is referenced by hand in every route's error responses (errors.py).
            _, definitions = models_json_schema(
                [(Problem, "serialization")], ref_template="#/components/schemas/{model}"
            )
            schema.setdefault("components", {}).setdefault("schemas", {}).update(
                definitions["$defs"]
            )
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


async def close_app(app: FastAPI) -> None:
    """Release what :func:`create_app` opened: in-flight runs finish, then the execution
    store, the storage and the database engine close (the lifespan does this on shutdown)."""
    try:
        await app.state.runtime.aclose()
        await app.state.storage.close()
        billing = getattr(app.state, "billing_setup", None)
        if billing is not None:
            billing.client.close()
    finally:
        app.state.engine.dispose()
