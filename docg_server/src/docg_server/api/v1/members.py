"""``/api/v1/organizations/me/users``: the organization's users, their roles, their removal.

- Everyone in the organization may list its users; only an owner changes a role; owners and
  admins remove users, but only an owner removes an owner.
- An organization always keeps an owner: a role change or removal that would leave none
  answers 409 ``last-owner``. Both run holding the organization's row
  (:func:`lock_organization`), so two owners demoting each other at once cannot both succeed.
- Removing a user deletes them with their refresh tokens: every session they had ends, and
  their access tokens stop working at once (their user no longer exists).
- Another organization's user id answers 404, exactly like an unknown one.
"""

from __future__ import annotations

import uuid
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from ...errors import HTTPProblem, problem_responses
from ...models import Organization, RefreshToken, Role, User
from ..deps import CurrentOrg, SessionDep, require_role
from ..pagination import decode_cursor, encode_cursor
from ..schemas import UserOut

__all__ = [
    "MAX_PAGE_SIZE",
    "decode_cursor",
    "encode_cursor",
    "lock_organization",
    "router",
]

router = APIRouter(
    prefix="/organizations/me/users", tags=["members"], responses=problem_responses(401)
)

MAX_PAGE_SIZE = 100

OrgOwner = Annotated[User, Depends(require_role(Role.OWNER))]
OrgAdmin = Annotated[User, Depends(require_role(Role.OWNER, Role.ADMIN))]


class UserPage(BaseModel):
    """One page of the organization's users, oldest first."""

    items: list[UserOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


class RoleChange(BaseModel):
    """The new role of a user."""

    model_config = ConfigDict(extra="forbid")

    role: Role


def lock_organization(session: Session, organization_id: uuid.UUID) -> int | None:
    """Serialise seat and owner changes in an organization; its current ``users_limit``.

    Like the workflow limit's lock: a no-op UPDATE takes the row lock on PostgreSQL and the
    database write lock on SQLite, so the counts that follow (new statements, hence fresh
    snapshots) see every committed change. Call it before any other write of the request.
    """
    session.execute(
        sa.update(Organization)
        .where(Organization.id == organization_id)
        .values(users_limit=Organization.users_limit, updated_at=Organization.updated_at)
        .execution_options(synchronize_session=False)
    )
    limit: int | None = session.scalar(
        sa.select(Organization.users_limit).where(Organization.id == organization_id)
    )
    return limit


def _user_in(session: Session, org: Organization, user_id: uuid.UUID) -> User:
    user = session.scalar(sa.select(User).where(User.id == user_id, User.organization_id == org.id))
    if user is None:
        raise HTTPProblem.not_found(f"there is no user {user_id} in your organization")
    return user


def _owner_count(session: Session, org: Organization) -> int:
    count = session.scalar(
        sa.select(sa.func.count())
        .select_from(User)
        .where(User.organization_id == org.id, User.role == Role.OWNER.value)
    )
    return count or 0


def _last_owner() -> HTTPProblem:
    return HTTPProblem.conflict(
        "this is the organization's only owner; make another user owner first",
        slug="last-owner",
    )


@router.get("", response_model=UserPage, responses=problem_responses(422))
def list_users(
    session: SessionDep,
    org: CurrentOrg,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> UserPage:
    """The organization's users, oldest first, ``limit`` at a time (any role may list)."""
    query = sa.select(User).where(User.organization_id == org.id)
    if cursor is not None:
        created, ident = decode_cursor(cursor)
        query = query.where(
            sa.or_(
                User.created_at > created,
                sa.and_(User.created_at == created, User.id > ident),
            )
        )
    found = list(session.scalars(query.order_by(User.created_at, User.id).limit(limit + 1)))
    page = found[:limit]
    next_cursor = encode_cursor(page[-1].created_at, page[-1].id) if len(found) > limit else None
    return UserPage(items=[UserOut.model_validate(u) for u in page], next_cursor=next_cursor)


@router.patch("/{user_id}", response_model=UserOut, responses=problem_responses(403, 404, 409, 422))
def change_role(
    user_id: uuid.UUID,
    body: RoleChange,
    session: SessionDep,
    org: CurrentOrg,
    _owner: OrgOwner,
) -> UserOut:
    """Change a user's role (owners only); the organization's last owner stays an owner."""
    user = _user_in(session, org, user_id)
    lock_organization(session, org.id)
    session.refresh(user)  # its role as of the lock
    if (
        user.role == Role.OWNER.value
        and body.role != Role.OWNER
        and _owner_count(session, org) <= 1
    ):
        session.rollback()
        raise _last_owner()
    user.role = body.role.value
    session.commit()
    return UserOut.model_validate(user)


@router.delete(
    "/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(403, 404, 409, 422),
)
def remove_user(
    user_id: uuid.UUID,
    session: SessionDep,
    org: CurrentOrg,
    caller: OrgAdmin,
) -> Response:
    """Remove a user from the organization and end their sessions (owners and admins).

    Only an owner removes an owner, and never the last one. The seat is free again at once.
    """
    user = _user_in(session, org, user_id)
    lock_organization(session, org.id)
    session.refresh(user)
    if user.role == Role.OWNER.value:
        if caller.role != Role.OWNER.value:
            session.rollback()
            raise HTTPProblem.forbidden("only an owner may remove an owner")
        if _owner_count(session, org) <= 1:
            session.rollback()
            raise _last_owner()
    session.execute(sa.delete(RefreshToken).where(RefreshToken.user_id == user.id))
    session.delete(user)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
