"""Sign-in state: refresh tokens (stored hashed, rotated) and failed login attempts."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import TimestampedBase

__all__ = ["LoginAttempt", "RefreshToken"]


class RefreshToken(TimestampedBase):
    """One refresh token; only its SHA-256 is stored, so a leaked table signs nobody in.

    Tokens descending from one login share a ``family_id``. Using a token revokes it and issues
    its successor; presenting an already revoked token means it was stolen or replayed, so the
    whole family is revoked (refresh token reuse detection).
    """

    __tablename__ = "refresh_tokens"

    user_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    family_id: Mapped[uuid.UUID] = mapped_column(index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    """Hex SHA-256 of the token (the token is 256 random bits, so no salt or KDF is needed)."""
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class LoginAttempt(TimestampedBase):
    """A failed sign-in for an email (existing or not); recent rows throttle further attempts.

    Kept in the database so the limit holds across server processes.
    """

    __tablename__ = "login_attempts"
    __table_args__ = (sa.Index(None, "email", "created_at"),)

    email: Mapped[str] = mapped_column(sa.String(320))
