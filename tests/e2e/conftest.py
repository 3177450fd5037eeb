"""End-to-end fixtures: the real application over HTTP (httpx ASGITransport) on an empty
database — SQLite, and PostgreSQL with the ``postgres`` marker — as the server tests build it,
and every vendor faked behind one transport routed by host."""

from __future__ import annotations

import httpx

# The server tests' fixtures (settings per database, app, client, api, fast hashing).
from server.conftest import (  # noqa: F401
    api,
    app,
    client,
    fast_password_hashing,
    postgres_api_url,
    settings,
    sqlite_url,
)


class Vendors(httpx.AsyncBaseTransport):
    """Routes each request to the fake of its host (``api.hubapi.com`` → HubSpot, …); a host
    without a fake fails like an unreachable network, so nothing leaves the test."""

    def __init__(self, routes: dict[str, httpx.AsyncBaseTransport]) -> None:
        self.routes = routes

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        for suffix, transport in self.routes.items():
            if host == suffix or host.endswith(f".{suffix}"):
                return await transport.handle_async_request(request)
        raise httpx.ConnectError(f"no fake answers for {host}", request=request)
