"""OAuth 2.0 authorization requests in flight (state + PKCE), bound to the user who began them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import TimestampedBase

__all__ = ["OAuthState"]


class OAuthState(TimestampedBase):
    """One ``/authorize`` redirect waiting for its ``/callback``.

    Only the SHA-256 of ``state`` is stored; the PKCE ``code_verifier`` is encrypted (the row
    id is its associated data). A callback must present the state of a row that is unused,
    unexpired, and belongs to the signed-in user; using it sets ``used_at`` (single use).
    """

    __tablename__ = "oauth_states"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[str] = mapped_column(sa.String(50))
    """The app key whose AuthSpec is used (``hubspot``, ``google``, ``microsoft``...)."""
    state_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    code_verifier: Mapped[str] = mapped_column(sa.Text())
    """Encrypted with the server's KeyRing."""
    redirect_uri: Mapped[str] = mapped_column(sa.String(2048))
    connection_name: Mapped[str] = mapped_column(sa.String(200))
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
