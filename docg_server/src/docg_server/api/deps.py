"""Request dependencies, as ``Annotated`` aliases routes declare.

- :data:`SessionDep` — a SQLAlchemy session for the request (sync; FastAPI runs it in its
  threadpool). Routes commit explicitly; whatever is not committed is rolled back at the end.
- :data:`CurrentUser` — the user of the ``Authorization: Bearer`` access token; a missing,
  expired or invalid token, or a user who no longer exists or is disabled, answers 401.
- :data:`CurrentOrg` — that user's organization. The tenant always comes from the
  authenticated principal, never from a header, query parameter or body (ARCHITECTURE §13).
- :func:`require_role` — 403 unless the current user has one of the roles.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from ..config import Settings
from ..errors import HTTPProblem
from ..models import Organization, Role, User
from ..security import InvalidTokenError, decode_access_token

__all__ = [
    "AppSettings",
    "CurrentOrg",
    "CurrentUser",
    "SessionDep",
    "get_current_org",
    "get_current_user",
    "get_session",
    "get_settings_dep",
    "require_role",
]

_bearer = HTTPBearer(
    auto_error=False,
    description="An access token from POST /api/v1/auth/login or /auth/refresh.",
)


def get_settings_dep(request: Request) -> Settings:
    """The settings the application was created with."""
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(get_settings_dep)]


def get_session(request: Request) -> Iterator[Session]:
    factory: sessionmaker[Session] = request.app.state.session_factory
    with factory() as session:
        yield session


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
    user = session.get(User, claims.user_id)
    # The organization claim must still be the user's: a token never grants another tenant.
    if user is None or not user.is_active or user.organization_id != claims.organization_id:
        raise HTTPProblem.unauthorized("the access token's user no longer has access")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def get_current_org(session: SessionDep, user: CurrentUser) -> Organization:
    org = session.get(Organization, user.organization_id)
    if org is None:  # deleted between the two reads; the user row cascades with it
        raise HTTPProblem.unauthorized("the access token's user no longer has access")
    return org


CurrentOrg = Annotated[Organization, Depends(get_current_org)]


def require_role(*roles: Role) -> Callable[[User], User]:
    """A dependency answering 403 unless the current user has one of ``roles``.

    Use as ``user: Annotated[User, Depends(require_role(Role.OWNER, Role.ADMIN))]``.
    """
    allowed = {role.value for role in roles}
    names = " or ".join(role.value for role in roles)

    def check(user: CurrentUser) -> User:
        if user.role not in allowed:
            raise HTTPProblem.forbidden(f"only an organization's {names} may do this")
        return user

    return check
