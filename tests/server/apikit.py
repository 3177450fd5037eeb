"""Helpers for the HTTP API tests: settings, clients, sign-in shortcuts, problem assertions."""

from __future__ import annotations

import tempfile
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.engine import URL

from docg_server.config import Settings

PASSWORD = "correct horse battery"


def make_settings(url: URL | str, **overrides: Any) -> Settings:
    text = url.render_as_string(hide_password=False) if isinstance(url, URL) else url
    values: dict[str, Any] = {
        "DOCG_ENV": "development",
        "DATABASE_URL": text,
        "CORS_ORIGINS": [],
        # Never the working directory's ./docg-files.
        "DOCG_STORAGE_DIR": tempfile.mkdtemp(prefix="docg-files-"),
    }
    values.update(overrides)
    return Settings(**values)


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


class Api:
    """Shortcuts for the auth calls most tests start with."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def register(
        self, email: str = "ana@example.com", org: str = "Acme", password: str = PASSWORD
    ) -> dict[str, Any]:
        response = await self.client.post(
            "/api/v1/auth/register",
            json={"email": email, "password": password, "organization_name": org},
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def login(self, email: str = "ana@example.com", password: str = PASSWORD) -> Any:
        response = await self.client.post(
            "/api/v1/auth/login", json={"email": email, "password": password}
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def signed_in(self, email: str = "ana@example.com", org: str = "Acme") -> Any:
        """Register, then log in; the token pair."""
        await self.register(email, org)
        return await self.login(email)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status and type; its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == f"https://docg.dev/problems/{slug}"
    assert body["status"] == status
    assert body["title"]
    assert body["instance"] == response.request.url.path
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def use_plugins(app: FastAPI, *plugins: object) -> None:
    """Give the application (its API and its engine) the built-ins plus ``plugins``.

    The tests run with ``DOCG_PLUGINS=""``: installed plugins are loaded only when asked for.
    """
    from docg_core.plugins import get_registry

    registry = get_registry(extra=list(plugins))
    app.state.registry = registry
    app.state.runtime.engine.registry = registry
