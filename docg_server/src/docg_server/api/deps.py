"""Request dependencies, as ``Annotated`` aliases routes declare.

- :data:`SessionDep` — a SQLAlchemy session for the request (sync; FastAPI runs it in its
  threadpool). Routes commit explicitly; whatever is not committed is rolled back at the end.
- :data:`CurrentUser` — the user of the ``Authorization: Bearer`` access token; a missing,
  expired or invalid token, or a user who no longer exists or is disabled, answers 401.
- :data:`CurrentOrg` — that user's organization. The tenant always comes from the
  authenticated principal, never from a header, query parameter or body (ARCHITECTURE §13).
- :func:`require_role` — 403 unless the current user has one of the roles.
- :data:`RegistryDep` — the apps the server knows (built once per app, on ``app.state``).
- :data:`RuntimeDep` — the execution runtime (engine, store, runner), on ``app.state``.
- :data:`StorageDep` — the file storage (local files or S3/Spaces), on ``app.state``.
- :data:`WorkflowDep` — the ``{workflow_id}`` of the path, loaded within the caller's
  organization: another organization's id answers 404, exactly like an unknown one.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, joinedload, sessionmaker
from starlette.concurrency import run_in_threadpool

from docg_core.plugins import Registry
from docg_core.storage import Storage

from ..config import Settings
from ..errors import HTTPProblem
from ..models import Organization, Role, User, Workflow
from ..runtime import Runtime
from ..security import InvalidTokenError, decode_access_token

__all__ = [
    "AppSettings",
    "CurrentOrg",
    "CurrentUser",
    "RegistryDep",
    "RuntimeDep",
    "SessionDep",
    "StorageDep",
    "WorkflowDep",
    "get_current_org",
    "get_current_user",
    "get_registry_dep",
    "get_runtime",
    "get_session",
    "get_settings_dep",
    "get_storage",
    "get_workflow",
    "public_base_url",
    "require_role",
]

_bearer = HTTPBearer(
    auto_error=False,
    description="An access token from POST /api/v1/auth/login or /auth/refresh.",
)


# Dependencies that only read app.state are ``async def``: a sync one would cost a hop to the
# threadpool on every request.


async def get_settings_dep(request: Request) -> Settings:
    """The settings the application was created with."""
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(get_settings_dep)]


async def get_session(request: Request) -> AsyncIterator[Session]:
    # Opening a session does no I/O (a connection is checked out on first use, in the
    # threadpool); closing it returns the connection, so that happens off the event loop —
    # unless the session never touched the database, which leaves nothing to release.
    factory: sessionmaker[Session] = request.app.state.session_factory
    session = factory()
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(session.close)
        else:
            session.close()


SessionDep = Annotated[Session, Depends(get_session)]


def get_current_user(
    session: SessionDep,
    settings: AppSettings,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPProblem.unauthorized(
            "this endpoint needs an access token: send 'Authorization: Bearer <token>'"
        )
    try:
        claims = decode_access_token(settings.jwt_secret(), credentials.credentials)
    except InvalidTokenError as exc:
        raise HTTPProblem.unauthorized(str(exc)) from None
    # With its organization in the same query: CurrentOrg then needs no second round trip.
    user = session.get(User, claims.user_id, options=[joinedload(User.organization)])
    # The organization claim must still be the user's: a token never grants another tenant.
    if user is None or not user.is_active or user.organization_id != claims.organization_id:
        raise HTTPProblem.unauthorized("the access token's user no longer has access")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_current_org(user: CurrentUser) -> Organization:
    # Loaded with the user (joinedload above): no I/O here.
    return user.organization


CurrentOrg = Annotated[Organization, Depends(get_current_org)]


def require_role(*roles: Role) -> Callable[[User], Awaitable[User]]:
    """A dependency answering 403 unless the current user has one of ``roles``.

    Use as ``user: Annotated[User, Depends(require_role(Role.OWNER, Role.ADMIN))]``.
    """
    allowed = {role.value for role in roles}
    names = " or ".join(role.value for role in roles)

    async def check(user: CurrentUser) -> User:
        if user.role not in allowed:
            raise HTTPProblem.forbidden(f"only an organization's {names} may do this")
        return user

    return check


async def get_registry_dep(request: Request) -> Registry:
    """The registry the application was created with."""
    registry: Registry = request.app.state.registry
    return registry


RegistryDep = Annotated[Registry, Depends(get_registry_dep)]


async def get_runtime(request: Request) -> Runtime:
    """The application's execution runtime."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def public_base_url(request: Request) -> str:
    """``PUBLIC_URL``, else the origin the request came to (for links sent elsewhere)."""
    settings: Settings = request.app.state.settings
    return settings.PUBLIC_URL.rstrip("/") or str(request.base_url).rstrip("/")


async def get_storage(request: Request) -> Storage:
    """The file storage the application was created with."""
    storage: Storage = request.app.state.storage
    return storage


StorageDep = Annotated[Storage, Depends(get_storage)]


def get_workflow(workflow_id: uuid.UUID, session: SessionDep, org: CurrentOrg) -> Workflow:
    """The workflow ``workflow_id`` of the caller's organization; 404 for any other."""
    workflow = session.scalar(
        sa.select(Workflow).where(Workflow.id == workflow_id, Workflow.organization_id == org.id)
    )
    if workflow is None:
        raise HTTPProblem.not_found(f"there is no workflow {workflow_id} in your organization")
    return workflow


WorkflowDep = Annotated[Workflow, Depends(get_workflow)]
