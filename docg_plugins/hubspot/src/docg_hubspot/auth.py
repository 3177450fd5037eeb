"""HubSpot connections: OAuth 2.0 (with token refresh) or a private app access token.

Credentials of an OAuth connection hold ``access_token``, ``refresh_token``, ``expires_at``
(Unix seconds, or an ISO 8601 date-time), ``client_id`` and ``client_secret``; those of a
private app hold ``private_app_token`` (and, to verify webhooks, ``client_secret``).

:func:`refresh_access_token` is public so that a server can refresh tokens itself (for
example one refresh at a time per connection) and store the new credentials.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from weakref import WeakKeyDictionary

import httpx

from docg_core.context import ExecutionContext
from docg_core.errors import StepError

from .common.errors import check_response, error_body

__all__ = [
    "AUTHORIZE_URL",
    "REFRESH_MARGIN_SECONDS",
    "SCOPES",
    "TOKEN_URL",
    "TokenRefreshError",
    "access_token",
    "can_refresh",
    "expires_at",
    "refresh_access_token",
]

AUTHORIZE_URL = "https://app.hubspot.com/oauth/authorize"
TOKEN_URL = "https://api.hubapi.com/oauth/v1/token"  # noqa: S105 (a URL)
TOKEN_PATH = "/oauth/v1/token"  # noqa: S105 (a path)

SCOPES = (
    "oauth",
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.objects.companies.read",
    "crm.objects.companies.write",
    "crm.objects.deals.read",
    "crm.objects.deals.write",
    "crm.objects.line_items.read",
    "crm.objects.line_items.write",
    "crm.objects.quotes.read",
    "crm.objects.quotes.write",
    "crm.objects.custom.read",
    "crm.objects.custom.write",
    "crm.schemas.custom.read",
    "crm.objects.owners.read",
    "files",
)
"""The scopes the app asks for: CRM objects read/write (notes need the contacts scopes),
custom object schemas, owners and files."""

REFRESH_MARGIN_SECONDS = 300
"""An access token expiring within this many seconds is refreshed before a request."""


class TokenRefreshError(StepError):
    """HubSpot refused to refresh the access token: the connection must be reconnected."""


def expires_at(credentials: Mapping[str, Any]) -> float | None:
    """``expires_at`` of the credentials as Unix seconds (None when absent or unreadable)."""
    value = credentials.get("expires_at")
    if isinstance(value, bool) or value in (None, ""):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def can_refresh(credentials: Mapping[str, Any]) -> bool:
    """True for OAuth credentials holding what a refresh needs."""
    return all(credentials.get(k) for k in ("refresh_token", "client_id", "client_secret"))


async def refresh_access_token(
    http: httpx.AsyncClient, credentials: Mapping[str, Any], *, now: float | None = None
) -> dict[str, Any]:
    """Exchange the refresh token for a new access token; return the new credentials.

    Sends ``POST https://api.hubapi.com/oauth/v1/token`` (form: ``grant_type=refresh_token``,
    ``client_id``, ``client_secret``, ``refresh_token``). The result is ``credentials`` with
    ``access_token``, ``refresh_token`` and ``expires_at`` (Unix seconds) replaced. Raises
    :class:`TokenRefreshError` when HubSpot refuses (a revoked or unknown refresh token),
    a retryable error for 429 and 5xx.
    """
    if not can_refresh(credentials):
        raise TokenRefreshError(
            "The HubSpot connection cannot refresh its access token (refresh token, client "
            "id or client secret missing). Reconnect the HubSpot connection.",
            code="auth_refresh_impossible",
        )
    response = await http.post(
        TOKEN_URL,
        data={
            "grant_type": "refresh_token",
            "client_id": str(credentials["client_id"]),
            "client_secret": str(credentials["client_secret"]),
            "refresh_token": str(credentials["refresh_token"]),
        },
        headers={"Accept": "application/json"},
    )
    if response.status_code in (400, 401, 403):
        body = error_body(response)
        reason = body.get("message") or body.get("status") or response.reason_phrase
        raise TokenRefreshError(
            f"HubSpot refused to refresh the access token ({reason}). "
            "Reconnect the HubSpot connection.",
            code="auth_refresh_failed",
        )
    check_response(response, "a new access token")
    token = response.json()
    issued = time.time() if now is None else now
    return {
        **credentials,
        "access_token": token["access_token"],
        "refresh_token": token.get("refresh_token") or credentials["refresh_token"],
        "expires_at": int(issued + float(token.get("expires_in", 1800))),
    }


# Tokens refreshed during a step, by context: ctx.auth is the stored connection and stays
# as given; persisting refreshed tokens is the embedding server's job.
_refreshed: WeakKeyDictionary[ExecutionContext, dict[str, Any]] = WeakKeyDictionary()


def current_credentials(ctx: ExecutionContext) -> Mapping[str, Any]:
    """The step's credentials, with any token refreshed during the step."""
    return _refreshed.get(ctx, ctx.auth)


async def refresh(ctx: ExecutionContext) -> Mapping[str, Any]:
    """Refresh the step's access token now; later requests of the step use the new one.

    Through the engine's connection provider when it can (a server refreshes once per
    connection across its processes and keeps the result), else directly with HubSpot for
    this step only."""
    current = current_credentials(ctx)
    stored = await ctx.refresh_auth(str(current.get("access_token") or ""))
    new = dict(stored) if stored is not None else await refresh_access_token(ctx.http, current)
    _refreshed[ctx] = new
    ctx.logger.info("hubspot: access token refreshed")
    return new


async def access_token(ctx: ExecutionContext) -> str:
    """The bearer token for the next request, refreshed first when it expires soon."""
    credentials = current_credentials(ctx)
    private = credentials.get("private_app_token")
    if private:
        return str(private)
    deadline = expires_at(credentials)
    if deadline is None:
        expiring = not credentials.get("access_token")
    else:
        expiring = deadline - time.time() < REFRESH_MARGIN_SECONDS
    if expiring and can_refresh(credentials):
        credentials = await refresh(ctx)
    token = credentials.get("access_token")
    if not token:
        raise StepError(
            "The HubSpot connection has no access token. Connect HubSpot again, or paste a "
            "private app access token.",
            code="auth_missing",
        )
    return str(token)
