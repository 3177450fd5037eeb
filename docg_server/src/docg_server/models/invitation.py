"""Invitations: an owner or admin asks someone, by email, to join their organization."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, validates

from .base import TimestampedBase, check_in
from .organization import Role

__all__ = ["INVITABLE_ROLES", "Invitation"]

INVITABLE_ROLES = (Role.ADMIN, Role.MEMBER)
"""An organization has its owner from registration; owners are made by a role change."""


class Invitation(TimestampedBase):
    """One invitation; only the SHA-256 of its token is stored (like refresh tokens).

    It is pending until accepted (``accepted_at``), revoked (``revoked_at``) or expired
    (``expires_at``); a pending invitation holds a seat of the plan's user limit.
    """

    __tablename__ = "invitations"
    __table_args__ = (
        check_in("role", [role.value for role in INVITABLE_ROLES], name="role"),
        sa.CheckConstraint("email = lower(email)", name="email_lower_case"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(sa.String(320))
    role: Mapped[str] = mapped_column(sa.String(20))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    """Hex SHA-256 of the token (256 random bits, so no salt or KDF is needed)."""
    invited_by_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    @validates("email")
    def _normalise_email(self, _key: str, value: str) -> str:
        return value.strip().lower()
