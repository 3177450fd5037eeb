"""The OAuth 2.0 client calls (authlib's httpx integration): the authorization URL, the code
exchange (with the PKCE verifier) and the refresh grant.

Token endpoint failures become :class:`TokenError` with the RFC 6749 ``error`` code
(``invalid_grant``...) and whether trying again later may work (``transient``: timeouts,
429, 5xx). Tokens never appear in an error's message.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
from authlib.integrations.base_client.errors import (
    OAuthError,
)
from authlib.integrations.httpx_client import AsyncOAuth2Client

from .providers import ClientConfig

__all__ = [
    "TOKEN_TIMEOUT_SECONDS",
    "TokenError",
    "authorization_url",
    "exchange_code",
    "refresh_tokens",
    "token_credentials",
]

TOKEN_TIMEOUT_SECONDS = 30.0
"""The longest one token request may take."""
_MAX_DESCRIPTION = 300


class TokenError(Exception):
    """The token endpoint refused (``error`` as in RFC 6749 §5.2) or could not be reached."""

    def __init__(self, error: str, description: str = "", *, transient: bool = False) -> None:
        self.error = error
        self.description = " ".join(description.split())[:_MAX_DESCRIPTION]
        self.transient = transient
        super().__init__(f"{error}: {self.description}" if self.description else error)


def _rfc6749_errors(response: httpx.Response) -> httpx.Response:
    """Make a refusal that is not shaped as RFC 6749 (HubSpot's ``{"status": ...}``) one."""
    if response.status_code == 429:
        response.raise_for_status()  # transient, whatever the body says
    if not 400 <= response.status_code < 500:
        return response
    try:
        body = response.json()
    except ValueError:
        return response
    if not isinstance(body, dict) or "error" in body:
        return response
    status = str(body.get("status", "")).upper()
    bad_grant = any(word in status for word in ("REFRESH_TOKEN", "AUTH_CODE", "GRANT"))
    return httpx.Response(
        response.status_code,
        json={
            "error": "invalid_grant" if bad_grant else "invalid_request",
            "error_description": str(body.get("message", ""))[:_MAX_DESCRIPTION],
        },
        request=response.request,
    )


def _client(
    client: ClientConfig,
    *,
    transport: httpx.AsyncBaseTransport | None,
    redirect_uri: str | None = None,
    scopes: Sequence[str] = (),
    pkce: bool = False,
) -> Any:
    oauth = AsyncOAuth2Client(
        client_id=client.client_id,
        client_secret=client.client_secret,
        token_endpoint_auth_method="client_secret_post",  # noqa: S106 (HubSpot takes only this)
        scope=" ".join(scopes) or None,
        redirect_uri=redirect_uri,
        code_challenge_method="S256" if pkce else None,
        transport=transport,
        timeout=TOKEN_TIMEOUT_SECONDS,
    )
    oauth.register_compliance_hook("access_token_response", _rfc6749_errors)
    oauth.register_compliance_hook("refresh_token_response", _rfc6749_errors)
    return oauth


async def authorization_url(
    client: ClientConfig,
    *,
    redirect_uri: str,
    scopes: Sequence[str],
    state: str,
    code_verifier: str | None,
    params: Mapping[str, str],
) -> str:
    """Where to send the browser: the provider's authorize URL with ``state`` and, when
    ``code_verifier`` is given, its S256 ``code_challenge``."""
    async with _client(
        client, transport=None, redirect_uri=redirect_uri, scopes=scopes, pkce=bool(code_verifier)
    ) as oauth:
        url, _state = oauth.create_authorization_url(
            client.authorize_url, state=state, code_verifier=code_verifier, **params
        )
    return str(url)


async def _call(coroutine: Any) -> dict[str, Any]:
    try:
        token = await coroutine
    except OAuthError as exc:
        raise TokenError(str(exc.error), str(exc.description or "")) from None
    except httpx.HTTPStatusError as exc:
        status = exc.response.status_code
        transient = status == 429 or status >= 500
        raise TokenError("http_error", f"HTTP {status}", transient=transient) from None
    except httpx.TimeoutException:
        raise TokenError(
            "timeout", "the token endpoint did not answer in time", transient=True
        ) from None
    except httpx.TransportError as exc:
        raise TokenError("unreachable", type(exc).__name__, transient=True) from None
    except ValueError:  # not a JSON object
        raise TokenError("invalid_response", "the token endpoint's answer is not JSON") from None
    if not isinstance(token, Mapping) or not isinstance(token.get("access_token"), str):
        raise TokenError("invalid_response", "the token endpoint's answer has no access_token")
    return dict(token)


async def exchange_code(
    client: ClientConfig,
    *,
    code: str,
    redirect_uri: str,
    code_verifier: str | None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> dict[str, Any]:
    """The token response for an authorization code (``authorization_code`` grant)."""
    extra = {"code_verifier": code_verifier} if code_verifier else {}
    async with _client(client, transport=transport, redirect_uri=redirect_uri) as oauth:
        return await _call(
            oauth.fetch_token(client.token_url, grant_type="authorization_code", code=code, **extra)
        )


async def refresh_tokens(
    client: ClientConfig,
    refresh_token: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> dict[str, Any]:
    """The token response for a refresh token (``refresh_token`` grant)."""
    async with _client(client, transport=transport) as oauth:
        return await _call(oauth.refresh_token(client.token_url, refresh_token=refresh_token))


def token_credentials(
    token: Mapping[str, Any],
    *,
    client: ClientConfig,
    previous: Mapping[str, Any] | None = None,
    requested_scopes: Sequence[str] = (),
    now: float | None = None,
) -> dict[str, Any]:
    """The credentials to store for a token response.

    The refresh token is kept when the response carries none (Google and HubSpot do not
    rotate it); ``scope`` is the granted one, else the previous or the requested one (RFC 6749
    §5.1: an absent ``scope`` means the one requested); ``expires_at`` is Unix seconds.
    """
    previous = previous or {}
    issued = time.time() if now is None else now
    credentials: dict[str, Any] = {
        "access_token": token["access_token"],
        "token_type": str(token.get("token_type") or "Bearer"),
        "client_id": client.client_id,
        "client_secret": client.client_secret,
    }
    refresh = token.get("refresh_token") or previous.get("refresh_token")
    if refresh:
        credentials["refresh_token"] = str(refresh)
    try:
        lifetime = float(token.get("expires_in") or 0)
    except (TypeError, ValueError):
        lifetime = 0.0
    if lifetime > 0:
        credentials["expires_at"] = int(issued + lifetime)
    scope = token.get("scope")
    if isinstance(scope, list):
        scope = " ".join(str(s) for s in scope)
    scope = scope or previous.get("scope") or " ".join(requested_scopes)
    if scope:
        credentials["scope"] = str(scope)
    return credentials
