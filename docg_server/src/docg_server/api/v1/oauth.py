"""OAuth 2.0 (authorization code + PKCE) connections: ``/api/v1/google-oauth``,
``/api/v1/microsoft/oauth`` and ``/api/v1/hubspot-oauth``, each with two routes.

- ``GET .../authorize?connection_name=&scopes=&mode=`` (owners and admins) stores the
  request server-side (state hashed, PKCE verifier encrypted, bound to the user and the
  organization, 10 minutes) and answers 307 to the provider — or, with ``mode=json``,
  ``{authorize_url, expires_at}`` for single-page apps.
- ``GET .../callback?code=&state=`` (where the provider sends the browser back) exchanges
  the code with the verifier and stores the tokens encrypted as the connection
  ``connection_name`` (created, or the same-named connection of that app updated), with the
  granted scopes and the access token's expiry.

The callback needs no access token: a browser coming back from the provider has none. The
state alone identifies the request — unguessable, single use, short-lived, bound to the user
who began it (who must still be an owner or admin). When an access token *is* sent, it must
be that same user's: another user's state answers 403 ``oauth-state-foreign``.
Tokens are never returned nor logged.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from ...errors import HTTPProblem, problem_responses
from ...models import Role, User
from ...oauth import PROVIDERS, FlowError, OAuthProvider, TokenError, flow
from ...oauth import client as oauth_client
from ...oauth.providers import ClientConfig, requested_scopes
from ..deps import (
    AppSettings,
    RegistryDep,
    SessionDep,
    get_current_user,
    public_base_url,
    require_role,
)

__all__ = ["AuthorizeOut", "OAuthConnectionOut", "routers"]

logger = logging.getLogger("docg.server.oauth")

_API_PREFIX = "/api/v1"  # where api_router mounts these routers
_MAX_SCOPES = 50
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,200}$")  # RFC 6749 §3.3
_ERROR_CODE = re.compile(r"^[a-z_]{1,64}$")

Editor = Annotated[User, Depends(require_role(Role.OWNER, Role.ADMIN))]
_bearer = HTTPBearer(auto_error=False, description="Optional: the user who began the flow.")


class AuthorizeOut(BaseModel):
    """Where to send the browser (``mode=json``)."""

    authorize_url: str
    expires_at: datetime = Field(description="The authorization must come back before this.")


class OAuthConnectionOut(BaseModel):
    """The connection the tokens were stored in (never the tokens)."""

    id: uuid.UUID
    app_key: str
    name: str
    status: str
    scopes: list[Any] = Field(description="The scopes the provider granted.")
    expires_at: datetime | None = Field(description="When the access token expires.")
    created: bool = Field(description="False when an existing connection was updated.")


def optional_user(
    session: SessionDep,
    settings: AppSettings,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User | None:
    """The signed-in user when an access token is sent (an invalid one answers 401)."""
    if credentials is None:
        return None
    return get_current_user(session, settings, credentials)


def _invalid(field: str, message: str, code: str) -> HTTPProblem:
    return HTTPProblem(
        422,
        f"1 invalid field(s): query.{field}",
        slug="validation-error",
        title="Your request is not valid",
        extensions={
            "errors": [{"location": "query", "field": field, "message": message, "code": code}]
        },
    )


def _parse_scopes(raw: str | None) -> tuple[str, ...]:
    if raw is None or not raw.strip():
        return ()
    scopes = tuple(dict.fromkeys(s for s in re.split(r"[\s,]+", raw.strip()) if s))
    if len(scopes) > _MAX_SCOPES:
        raise _invalid("scopes", f"at most {_MAX_SCOPES} scopes", "too_many_scopes")
    if not all(_SCOPE_TOKEN.match(s) for s in scopes):
        raise _invalid(
            "scopes",
            "scopes are separated by spaces or commas and made of printable ASCII characters "
            "other than '\"' and '\\'",
            "invalid_scope",
        )
    return scopes


def _client_or_503(provider: OAuthProvider, settings: AppSettings) -> ClientConfig:
    client = provider.client(settings)
    if client is None:
        raise HTTPProblem(
            503,
            f"{provider.name} connections are not configured on this server: set "
            f"{provider.client_id_setting} and {provider.client_secret_setting} "
            "(see docs/oauth.md)",
            slug="oauth-not-configured",
        )
    return client


def _problem(exc: FlowError) -> HTTPProblem:
    return HTTPProblem(exc.status, exc.detail, slug=exc.slug)


def _router(provider: OAuthProvider) -> APIRouter:
    router = APIRouter(prefix=provider.path, tags=["oauth"])

    @router.get(
        "/authorize",
        name=f"{provider.key}_oauth_authorize",
        response_model=None,
        responses={
            200: {"model": AuthorizeOut, "description": "With mode=json."},
            307: {"description": f"A redirect to {provider.name}."},
            **problem_responses(401, 403, 409, 422, 503),
        },
    )
    async def authorize(
        request: Request,
        settings: AppSettings,
        registry: RegistryDep,
        user: Editor,
        connection_name: Annotated[
            str, Query(min_length=1, max_length=200, description="The connection to make.")
        ],
        scopes: Annotated[
            str | None,
            Query(max_length=4000, description="Space- or comma-separated; default: the app's."),
        ] = None,
        mode: Annotated[
            Literal["redirect", "json"], Query(description="json: answer {authorize_url}.")
        ] = "redirect",
    ) -> Response:
        name = connection_name.strip()
        if not name:
            raise _invalid("connection_name", "must not be blank", "string_too_short")
        asked = _parse_scopes(scopes)
        client = _client_or_503(provider, settings)
        factory = request.app.state.session_factory
        if await asyncio.to_thread(
            flow.name_taken, factory, user.organization_id, name, provider.app_key
        ):
            raise _problem(flow.name_taken_error(name))
        wanted, pkce = requested_scopes(provider, registry, asked)
        redirect_uri = f"{public_base_url(request)}{_API_PREFIX}{provider.path}/callback"
        state, verifier, expires_at = await asyncio.to_thread(
            flow.begin,
            factory,
            settings.keyring(),
            provider=provider.key,
            organization_id=user.organization_id,
            user_id=user.id,
            redirect_uri=redirect_uri,
            connection_name=name,
            scopes=wanted,
            pkce=pkce,
        )
        url = await oauth_client.authorization_url(
            client,
            redirect_uri=redirect_uri,
            scopes=wanted,
            state=state,
            code_verifier=verifier,
            params=provider.authorize_params,
        )
        if mode == "json":
            body = AuthorizeOut(authorize_url=url, expires_at=expires_at)
            return JSONResponse(body.model_dump(mode="json"))
        return RedirectResponse(url, status_code=307)

    authorize.__doc__ = (
        f"Begin connecting {provider.name} (owners and admins): 307 to {provider.name}'s "
        "consent page, or ``{authorize_url}`` with ``mode=json``. 409 "
        "``connection-name-taken`` when another app's connection has the name; 503 "
        "``oauth-not-configured`` without the OAuth client settings."
    )

    @router.get(
        "/callback",
        name=f"{provider.key}_oauth_callback",
        response_model=OAuthConnectionOut,
        responses={
            201: {"model": OAuthConnectionOut, "description": "A new connection."},
            **problem_responses(400, 401, 403, 409, 422, 502, 503),
        },
    )
    async def callback(
        request: Request,
        response: Response,
        settings: AppSettings,
        user: Annotated[User | None, Depends(optional_user)],
        state: Annotated[str | None, Query(max_length=200)] = None,
        code: Annotated[str | None, Query(max_length=4096)] = None,
        error: Annotated[str | None, Query(max_length=200)] = None,
    ) -> OAuthConnectionOut:
        if not state:
            raise _invalid("state", "the provider's callback carries a state", "missing")
        client = _client_or_503(provider, settings)
        factory = request.app.state.session_factory
        keyring = settings.keyring()
        try:
            pending = await asyncio.to_thread(
                flow.consume,
                factory,
                keyring,
                provider=provider.key,
                state=state,
                user_id=user.id if user is not None else None,
            )
        except FlowError as exc:
            raise _problem(exc) from None
        if error is not None:
            if error == "access_denied":
                raise HTTPProblem(
                    400,
                    f"access was refused at {provider.name} (access_denied): nothing was "
                    "connected; start again from /authorize to connect",
                    slug="oauth-access-denied",
                )
            said = error if _ERROR_CODE.match(error) else "an unknown error"
            raise HTTPProblem(
                400,
                f"{provider.name} did not authorise the connection ({said}); start again "
                "from /authorize",
                slug="oauth-provider-error",
                extensions={"error": said},
            )
        if not code:
            raise _invalid("code", "the provider's callback carries a code", "missing")
        try:
            token = await oauth_client.exchange_code(
                client,
                code=code,
                redirect_uri=pending.redirect_uri,
                code_verifier=pending.code_verifier,
                transport=getattr(request.app.state, "http_transport", None),
            )
        except TokenError as exc:
            raise HTTPProblem(
                502,
                f"{provider.name} refused the authorization code ({exc.error}"
                + (f": {exc.description}" if exc.description else "")
                + "); start again from /authorize",
                slug="oauth-token-exchange-failed",
                extensions={"error": exc.error},
            ) from None

        def build(previous: Any) -> dict[str, Any]:
            return oauth_client.token_credentials(
                token, client=client, previous=previous, requested_scopes=pending.scopes
            )

        try:
            saved = await asyncio.to_thread(
                flow.save_connection,
                factory,
                keyring,
                organization_id=pending.organization_id,
                app_key=provider.app_key,
                name=pending.connection_name,
                build=build,
            )
        except FlowError as exc:
            raise _problem(exc) from None
        logger.info(
            "oauth: %s connection %s %s",
            provider.key,
            saved.id,
            "created" if saved.created else "reconnected",
        )
        response.status_code = 201 if saved.created else 200
        return OAuthConnectionOut(
            id=saved.id,
            app_key=saved.app_key,
            name=saved.name,
            status=saved.status,
            scopes=saved.scopes,
            expires_at=saved.expires_at,
            created=saved.created,
        )

    callback.__doc__ = (
        f"Where {provider.name} sends the browser back: stores the tokens (encrypted) as the "
        "connection. No access token needed; if one is sent it must be the user's who began "
        "the flow. 400 ``oauth-state-invalid|used|expired``, ``oauth-access-denied``; 403 "
        "``oauth-state-foreign``; 502 ``oauth-token-exchange-failed``."
    )
    return router


routers: tuple[APIRouter, ...] = tuple(_router(p) for p in PROVIDERS.values())
"""One router per provider, for ``api_router.include_router``."""
