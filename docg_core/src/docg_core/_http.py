"""Builds the ``ctx.http`` client of a step: timeouts, the app's base URL and request hook."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from .apps import BaseApp
    from .context import ExecutionContext

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
USER_AGENT = "docg-core"


@cache
def _ssl_context() -> ssl.SSLContext:
    # Creating an SSL context costs milliseconds; one per process serves every client.
    return httpx.create_ssl_context()


def http_factory(
    app: BaseApp,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
) -> Callable[[ExecutionContext], httpx.AsyncClient]:
    """A factory the context calls on first use of ``ctx.http``.

    ``transport`` replaces the network (tests pass an ``httpx.MockTransport`` vendor fake).
    """

    def build(ctx: ExecutionContext) -> httpx.AsyncClient:
        async def before_request(request: httpx.Request) -> None:
            await app.before_request(ctx, request)

        return httpx.AsyncClient(
            base_url=app.get_base_url(ctx) or "",
            timeout=timeout,
            transport=transport,
            verify=_ssl_context() if transport is None else True,
            headers={"User-Agent": USER_AGENT},
            event_hooks={"request": [before_request]},
            follow_redirects=True,
        )

    return build
