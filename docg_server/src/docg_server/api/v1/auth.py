"""``/api/v1/auth``: register, login, refresh, logout.

- Access tokens are JWTs (HS256, ``JWT_SECRET``) living ``ACCESS_TOKEN_TTL_SECONDS``.
- Refresh tokens are random; only their SHA-256 is stored. Each use revokes the token and
  issues its successor in the same family; presenting a revoked token revokes the family.
- After ``LOGIN_MAX_FAILURES`` failed logins for an email within
  ``LOGIN_FAILURE_WINDOW_SECONDS``, login answers 429 with ``Retry-After`` (counted in the
  database, so it holds across processes).
"""

from __future__ import annotations

import logging
import math
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from fastapi import APIRouter, Response, status
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ...billing.plans import Plan
from ...config import Settings
from ...errors import HTTPProblem, problem_responses
from ...models import LoginAttempt, Organization, RefreshToken, Role, User
from ...security import (
    create_access_token,
    hash_password,
    hash_refresh_token,
    new_refresh_token,
    password_needs_rehash,
    verify_password,
    verify_password_against_nothing,
)
from ..deps import AppSettings, SessionDep
from ..schemas import OrganizationOut, UserOut

__all__ = ["router"]

logger = logging.getLogger("docg.server.auth")

router = APIRouter(prefix="/auth", tags=["auth"])

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024  # bounds the hashing work an anonymous request can cause
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _normalise_email(value: str) -> str:
    email = value.strip().lower()
    if not _EMAIL.match(email):
        raise ValueError("not an email address")
    return email


class RegisterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=320, examples=["ana@example.com"])
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)
    name: str | None = Field(default=None, max_length=200)
    organization_name: str = Field(min_length=1, max_length=200)

    _email = field_validator("email")(_normalise_email)

    @field_validator("organization_name")
    @classmethod
    def _strip(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


class RegisterOut(BaseModel):
    user: UserOut
    organization: OrganizationOut


class LoginIn(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)


class RefreshIn(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=200)


class TokenPair(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth 2 token type, not a secret
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str
    refresh_expires_in: int = Field(description="Seconds until the refresh token expires.")


def _now() -> datetime:
    return datetime.now(UTC)


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=RegisterOut,
    responses=problem_responses(409, 422),
)
def register(body: RegisterIn, session: SessionDep) -> RegisterOut:
    """Create an organization on the Free plan and its owner; then sign in with /auth/login."""
    taken = "this email is already registered; sign in, or use another email"
    if session.scalar(sa.select(User.id).where(User.email == body.email)) is not None:
        raise HTTPProblem.conflict(taken, slug="email-already-registered")
    org = Organization(name=body.organization_name)
    org.apply_plan(Plan.FREE)
    user = User(
        organization=org,
        email=body.email,
        password_hash=hash_password(body.password),
        role=Role.OWNER.value,
        name=body.name,
    )
    session.add_all([org, user])
    try:
        session.commit()
    except IntegrityError:  # registered concurrently, between the check and the insert
        session.rollback()
        raise HTTPProblem.conflict(taken, slug="email-already-registered") from None
    return RegisterOut(
        user=UserOut.model_validate(user), organization=OrganizationOut.model_validate(org)
    )


def _throttle(session: Session, settings: Settings, email: str, now: datetime) -> None:
    """429 when the email has had too many recent failed logins."""
    window = timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)
    recent = session.scalars(
        sa.select(LoginAttempt.created_at)
        .where(LoginAttempt.email == email, LoginAttempt.created_at > now - window)
        .order_by(LoginAttempt.created_at.desc())
        .limit(settings.LOGIN_MAX_FAILURES)
    ).all()
    if len(recent) >= settings.LOGIN_MAX_FAILURES:
        # Allowed again once the oldest of the last N failures leaves the window.
        retry_after = math.ceil((recent[-1] + window - now).total_seconds())
        raise HTTPProblem.too_many_requests(
            "too many failed sign-ins for this email; wait before trying again",
            retry_after=retry_after,
        )


def _record_failure(session: Session, settings: Settings, email: str, now: datetime) -> None:
    window = timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)
    session.execute(sa.delete(LoginAttempt).where(LoginAttempt.created_at <= now - window))
    session.add(LoginAttempt(email=email, created_at=now, updated_at=now))
    session.commit()


def _issue_tokens(
    session: Session, settings: Settings, user: User, family_id: uuid.UUID, now: datetime
) -> TokenPair:
    """A new access token, and a new refresh token in ``family_id`` (added, not committed)."""
    access_ttl = timedelta(seconds=settings.ACCESS_TOKEN_TTL_SECONDS)
    refresh_ttl = timedelta(seconds=settings.REFRESH_TOKEN_TTL_SECONDS)
    token, token_hash = new_refresh_token()
    session.add(
        RefreshToken(
            user_id=user.id,
            family_id=family_id,
            token_hash=token_hash,
            expires_at=now + refresh_ttl,
        )
    )
    access = create_access_token(
        settings.jwt_secret(),
        user_id=user.id,
        organization_id=user.organization_id,
        ttl=access_ttl,
        now=now,
    )
    return TokenPair(
        access_token=access,
        expires_in=settings.ACCESS_TOKEN_TTL_SECONDS,
        refresh_token=token,
        refresh_expires_in=settings.REFRESH_TOKEN_TTL_SECONDS,
    )


@router.post("/login", response_model=TokenPair, responses=problem_responses(401, 422, 429))
def login(body: LoginIn, session: SessionDep, settings: AppSettings) -> TokenPair:
    """Exchange an email and password for an access token and a refresh token."""
    now = _now()
    email = body.email.strip().lower()
    _throttle(session, settings, email, now)
    user = session.scalar(sa.select(User).where(User.email == email))
    if user is None:
        verify_password_against_nothing(body.password)
        ok = False
    else:
        ok = verify_password(user.password_hash, body.password) and user.is_active
    if user is None or not ok:
        _record_failure(session, settings, email, now)
        raise HTTPProblem.unauthorized("the email or password is wrong", slug="invalid-credentials")
    session.execute(sa.delete(LoginAttempt).where(LoginAttempt.email == email))
    if password_needs_rehash(user.password_hash):
        user.password_hash = hash_password(body.password)
    tokens = _issue_tokens(session, settings, user, uuid.uuid4(), now)
    session.commit()
    return tokens


def _revoke_family(session: Session, family_id: uuid.UUID, now: datetime) -> None:
    session.execute(
        sa.update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now, updated_at=now)
    )
    session.commit()


def _invalid_refresh(detail: str) -> HTTPProblem:
    return HTTPProblem.unauthorized(detail, slug="invalid-refresh-token")


@router.post("/refresh", response_model=TokenPair, responses=problem_responses(401, 422))
def refresh(body: RefreshIn, session: SessionDep, settings: AppSettings) -> TokenPair:
    """Exchange a refresh token for new tokens; the one presented stops working.

    Presenting a refresh token that was already used or revoked signs that session out
    everywhere: every token descending from the same login is revoked.
    """
    now = _now()
    stored = session.scalar(
        sa.select(RefreshToken).where(
            RefreshToken.token_hash == hash_refresh_token(body.refresh_token)
        )
    )
    if stored is None:
        raise _invalid_refresh("the refresh token is not valid; sign in again")
    reused = "the refresh token was already used; every session from that sign-in is revoked"
    if stored.revoked_at is not None:
        logger.warning(
            "refresh token reuse: user %s, family %s revoked", stored.user_id, stored.family_id
        )
        _revoke_family(session, stored.family_id, now)
        raise _invalid_refresh(reused)
    if stored.expires_at <= now:
        raise _invalid_refresh("the refresh token has expired; sign in again")
    # Claim the token atomically: of two concurrent refreshes with it, only one wins.
    claimed = cast(
        CursorResult[Any],
        session.execute(
            sa.update(RefreshToken)
            .where(RefreshToken.id == stored.id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        ),
    )
    if claimed.rowcount != 1:
        _revoke_family(session, stored.family_id, now)
        raise _invalid_refresh(reused)
    user = session.get(User, stored.user_id)
    if user is None or not user.is_active:
        session.commit()
        raise _invalid_refresh("the refresh token's user no longer has access")
    tokens = _issue_tokens(session, settings, user, stored.family_id, now)
    session.commit()
    return tokens


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(422),
)
def logout(body: RefreshIn, session: SessionDep) -> Response:
    """Revoke a refresh token. Answers 204 whether or not the token was valid.

    Access tokens already issued stay valid until they expire (``expires_in``).
    """
    now = _now()
    session.execute(
        sa.update(RefreshToken)
        .where(
            RefreshToken.token_hash == hash_refresh_token(body.refresh_token),
            RefreshToken.revoked_at.is_(None),
        )
        .values(revoked_at=now, updated_at=now)
    )
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
