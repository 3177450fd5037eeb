"""Requests to HubSpot through ``ctx.http``, with one token refresh on 401 and error mapping."""

from __future__ import annotations

from typing import Any

import httpx

from docg_core.context import ExecutionContext

from ..auth import can_refresh, current_credentials, refresh
from .errors import check_response

__all__ = ["hubspot_json", "hubspot_request"]


async def hubspot_request(
    ctx: ExecutionContext, method: str, url: str, *, what: str, **kwargs: Any
) -> httpx.Response:
    """Send a request; on a 401 refresh the OAuth token once and resend; raise the mapped
    step error for any other failure. ``what`` names the resource in error messages."""
    response = await ctx.http.request(method, url, **kwargs)
    if response.status_code == 401 and can_refresh(current_credentials(ctx)):
        ctx.logger.info("hubspot: 401 for %s %s, refreshing the token once", method, url)
        await refresh(ctx)
        response = await ctx.http.request(method, url, **kwargs)
    check_response(response, what)
    return response


async def hubspot_json(
    ctx: ExecutionContext, method: str, url: str, *, what: str, **kwargs: Any
) -> Any:
    """:func:`hubspot_request` and the parsed JSON body (None for an empty body)."""
    response = await hubspot_request(ctx, method, url, what=what, **kwargs)
    return response.json() if response.content else None
