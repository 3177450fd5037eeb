"""Invitations: ``/api/v1/organizations/me/invitations`` and ``/api/v1/auth/accept-invitation``.

- Owners and admins invite by email as ``admin`` or ``member``; only an owner invites an admin.
  An email that is already a user (of any organization) answers 409.
- The answer holds a one-time ``accept_url`` with a random token (256 bits) after ``#``, so it
  never reaches a server's access log. Only its SHA-256 is stored, like refresh tokens. It
  expires after ``INVITATION_TTL_SECONDS`` (7 days).
- The plan's user limit (``users_limit``, ``null`` unlimited) is checked holding the
  organization's row at invite time (users + pending invitations) and again at accept time
  (users), so concurrent invitations or accepts never pass it: 403 ``plan-limit-reached``.
- Accepting creates the user in the inviting organization with the invited role; a token
  works once. Unknown tokens answer 404 ``invitation-not-found``; used, revoked and expired
  ones 409 ``invitation-used`` / ``invitation-revoked`` / ``invitation-expired``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, cast

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ...config import Settings
from ...errors import HTTPProblem, problem_responses
from ...models import Invitation, Organization, Role, User
from ...security import hash_password, hash_refresh_token, new_refresh_token
from ..deps import AppSettings, CurrentOrg, SessionDep, require_role
from ..pagination import decode_cursor, encode_cursor
from ..schemas import OrganizationOut, UserOut
from .auth import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, _normalise_email
from .members import MAX_PAGE_SIZE, lock_organization

__all__ = ["accept_router", "router"]

router = APIRouter(
    prefix="/organizations/me/invitations", tags=["invitations"], responses=problem_responses(401)
)
accept_router = APIRouter(prefix="/auth", tags=["auth"])

OrgAdmin = Annotated[User, Depends(require_role(Role.OWNER, Role.ADMIN))]

_TAKEN = "this email is already registered; they sign in with it, or use another email"


class InvitationIn(BaseModel):
    """Whom to invite, and as what."""

    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=320, examples=["bruno@example.com"])
    role: Literal["admin", "member"] = "member"

    _email = field_validator("email")(_normalise_email)


class InvitationOut(BaseModel):
    """A pending invitation (never its token)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    role: str
    invited_by_id: uuid.UUID | None
    expires_at: datetime
    created_at: datetime


class InvitationCreated(InvitationOut):
    """A new invitation and the link to send; the link is shown this once only."""

    accept_url: str = Field(
        description="Send it to the invited person; its token works once, until `expires_at`."
    )


class InvitationPage(BaseModel):
    """One page of pending invitations, oldest first."""

    items: list[InvitationOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


class AcceptInvitationIn(BaseModel):
    """The token from the invitation link, and the new user's password and name."""

    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)
    name: str | None = Field(default=None, max_length=200)


class AcceptedInvitation(BaseModel):
    """The user created, and the organization they joined."""

    user: UserOut
    organization: OrganizationOut


def _now() -> datetime:
    return datetime.now(UTC)


def _pending(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        Invitation.accepted_at.is_(None),
        Invitation.revoked_at.is_(None),
        Invitation.expires_at > now,
    )


def _count(session: Session, model: type[User] | type[Invitation], *where: Any) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(model).where(*where)) or 0


def _limit_reached(org: Organization, limit: int, detail: str) -> HTTPProblem:
    return HTTPProblem(
        403,
        detail,
        slug="plan-limit-reached",
        title="Plan limit reached",
        extensions={"limit": "users_limit", "limit_value": limit, "plan": org.plan},
    )


def _accept_url(settings: Settings, request: Request, token: str) -> str:
    base = settings.INVITATION_ACCEPT_URL or (
        (settings.PUBLIC_URL or str(request.base_url)).rstrip("/") + "/accept-invitation"
    )
    # A fragment: browsers never send it, so the token stays out of every access log.
    return f"{base}#token={token}"


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=InvitationCreated,
    responses=problem_responses(403, 409, 422),
)
def invite(
    body: InvitationIn,
    request: Request,
    session: SessionDep,
    settings: AppSettings,
    org: CurrentOrg,
    caller: OrgAdmin,
) -> InvitationCreated:
    """Invite someone to the organization (owners and admins; only owners invite admins).

    A pending invitation holds a seat: users plus pending invitations may not pass the plan's
    user limit.
    """
    if body.role == Role.ADMIN.value and caller.role != Role.OWNER.value:
        raise HTTPProblem.forbidden("only an owner may invite an admin")
    if session.scalar(sa.select(User.id).where(User.email == body.email)) is not None:
        raise HTTPProblem.conflict(_TAKEN, slug="email-already-registered")
    now = _now()
    limit = lock_organization(session, org.id)
    pending = _pending(now)
    in_org = Invitation.organization_id == org.id
    if _count(session, Invitation, in_org, pending, Invitation.email == body.email):
        session.rollback()
        raise HTTPProblem.conflict(
            "this email already has a pending invitation; revoke it to send a new one",
            slug="invitation-already-pending",
        )
    if limit is not None:
        users = _count(session, User, User.organization_id == org.id)
        invited = _count(session, Invitation, in_org, pending)
        if users + invited >= limit:
            session.rollback()
            raise _limit_reached(
                org,
                limit,
                f"the {org.plan} plan allows {limit} users and the organization has {users} "
                f"and {invited} pending invitation(s); revoke an invitation, remove a user or "
                "upgrade the plan",
            )
    token, token_hash = new_refresh_token()  # the same scheme: 256 random bits, SHA-256 stored
    invitation = Invitation(
        organization_id=org.id,
        email=body.email,
        role=body.role,
        token_hash=token_hash,
        invited_by_id=caller.id,
        expires_at=now + timedelta(seconds=settings.INVITATION_TTL_SECONDS),
    )
    session.add(invitation)
    session.commit()
    out = InvitationOut.model_validate(invitation)
    return InvitationCreated(**out.model_dump(), accept_url=_accept_url(settings, request, token))


@router.get("", response_model=InvitationPage, responses=problem_responses(403, 422))
def list_invitations(
    session: SessionDep,
    org: CurrentOrg,
    _admin: OrgAdmin,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> InvitationPage:
    """The organization's pending invitations, oldest first (owners and admins)."""
    query = sa.select(Invitation).where(Invitation.organization_id == org.id, _pending(_now()))
    if cursor is not None:
        created, ident = decode_cursor(cursor)
        query = query.where(
            sa.or_(
                Invitation.created_at > created,
                sa.and_(Invitation.created_at == created, Invitation.id > ident),
            )
        )
    query = query.order_by(Invitation.created_at, Invitation.id).limit(limit + 1)
    found = list(session.scalars(query))
    page = found[:limit]
    next_cursor = encode_cursor(page[-1].created_at, page[-1].id) if len(found) > limit else None
    return InvitationPage(
        items=[InvitationOut.model_validate(i) for i in page], next_cursor=next_cursor
    )


@router.delete(
    "/{invitation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(403, 404, 422),
)
def revoke_invitation(
    invitation_id: uuid.UUID, session: SessionDep, org: CurrentOrg, caller: OrgAdmin
) -> Response:
    """Revoke a pending invitation: its link stops working and its seat is free again.

    Only an owner revokes an invitation to be admin.
    """
    missing = f"there is no pending invitation {invitation_id} in your organization"
    invitation = session.scalar(
        sa.select(Invitation).where(
            Invitation.id == invitation_id, Invitation.organization_id == org.id
        )
    )
    if invitation is None:
        raise HTTPProblem.not_found(missing)
    if invitation.role == Role.ADMIN.value and caller.role != Role.OWNER.value:
        raise HTTPProblem.forbidden("only an owner may revoke an invitation to be admin")
    now = _now()
    revoked = cast(
        CursorResult[Any],
        session.execute(
            sa.update(Invitation)
            .where(
                Invitation.id == invitation.id,
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
            )
            .values(revoked_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        ),
    )
    if revoked.rowcount != 1:
        session.rollback()
        raise HTTPProblem.not_found(missing)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _check_usable(invitation: Invitation, now: datetime) -> None:
    """409 naming why the invitation cannot be accepted, if it cannot."""
    ask = "ask the organization for a new invitation"
    if invitation.accepted_at is not None:
        raise HTTPProblem.conflict(
            f"this invitation was already accepted; sign in, or {ask}", slug="invitation-used"
        )
    if invitation.revoked_at is not None:
        raise HTTPProblem.conflict(f"this invitation was revoked; {ask}", slug="invitation-revoked")
    if invitation.expires_at <= now:
        raise HTTPProblem.conflict(
            f"this invitation expired on {invitation.expires_at:%Y-%m-%d %H:%M} UTC; {ask}",
            slug="invitation-expired",
        )


@accept_router.post(
    "/accept-invitation",
    status_code=status.HTTP_201_CREATED,
    response_model=AcceptedInvitation,
    responses=problem_responses(403, 404, 409, 422),
)
def accept_invitation(body: AcceptInvitationIn, session: SessionDep) -> AcceptedInvitation:
    """Join an organization with an invitation's token: creates the user with the invited role.

    Then sign in with /auth/login. The token works once. The plan's user limit is checked
    again here, so concurrent accepts never pass it.
    """
    now = _now()
    invitation = session.scalar(
        sa.select(Invitation).where(Invitation.token_hash == hash_refresh_token(body.token))
    )
    if invitation is None:
        raise HTTPProblem(
            404,
            "this invitation link is not valid; check it was copied whole, or ask for a new one",
            slug="invitation-not-found",
        )
    _check_usable(invitation, now)
    if session.scalar(sa.select(User.id).where(User.email == invitation.email)) is not None:
        raise HTTPProblem.conflict(_TAKEN, slug="email-already-registered")
    password_hash = hash_password(body.password)  # slow: before taking the lock

    limit = lock_organization(session, invitation.organization_id)
    org = session.get(Organization, invitation.organization_id)
    if org is None:  # the organization was deleted; its invitations went with it
        session.rollback()
        raise HTTPProblem(404, "this invitation no longer exists", slug="invitation-not-found")
    if limit is not None:
        users = _count(session, User, User.organization_id == org.id)
        if users >= limit:
            session.rollback()
            raise _limit_reached(
                org,
                limit,
                f"the {org.plan} plan allows {limit} users and the organization has {users}; "
                "ask its owner to free a seat or upgrade the plan",
            )
    # Claim the invitation atomically: of two accepts with the same token, one wins.
    claimed = cast(
        CursorResult[Any],
        session.execute(
            sa.update(Invitation)
            .where(Invitation.id == invitation.id, _pending(now))
            .values(accepted_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        ),
    )
    if claimed.rowcount != 1:
        session.rollback()
        session.refresh(invitation)
        _check_usable(invitation, now)
        raise HTTPProblem.conflict("this invitation was already accepted", slug="invitation-used")
    user = User(
        organization_id=org.id,
        email=invitation.email,
        password_hash=password_hash,
        role=invitation.role,
        name=body.name,
    )
    session.add(user)
    try:
        session.commit()
    except IntegrityError:  # the email registered concurrently, between the check and here
        session.rollback()
        raise HTTPProblem.conflict(_TAKEN, slug="email-already-registered") from None
    return AcceptedInvitation(
        user=UserOut.model_validate(user), organization=OrganizationOut.model_validate(org)
    )
