"""Connections to data sources and services; credentials are encrypted (docg_server.crypto)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import TimestampedBase, check_in

__all__ = ["ConnectionStatus", "DataSourceConnection"]


class ConnectionStatus(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    ERROR = "error"


class DataSourceConnection(TimestampedBase):
    """An organization's connection to an app; nodes refer to it by ``name``.

    ``credentials`` holds a token from :meth:`docg_server.crypto.KeyRing.encrypt_json` whose
    associated data is this row's id, never plain text; the API never returns it.
    """

    __tablename__ = "data_source_connections"
    __table_args__ = (
        sa.UniqueConstraint("organization_id", "name"),
        check_in("status", [s.value for s in ConnectionStatus], name="status"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    app_key: Mapped[str] = mapped_column(sa.String(100))
    name: Mapped[str] = mapped_column(sa.String(200))
    credentials: Mapped[str] = mapped_column(sa.Text())
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    """Scopes the provider granted (may differ from those requested)."""
    status: Mapped[str] = mapped_column(sa.String(20), default=ConnectionStatus.ACTIVE.value)
    credentials_version: Mapped[int] = mapped_column(default=1)
    """Bumped by every credentials write, so a token refresh can compare-and-swap: two
    processes refreshing at once never overwrite each other's new token."""
    expires_at: Mapped[datetime | None]
    """When the stored access token expires (OAuth), so it is refreshed before it does."""
