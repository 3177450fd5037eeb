"""Event ids already handled, so a redelivered webhook or Stripe event is applied once."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import TimestampedBase

__all__ = ["ProcessedEvent"]


class ProcessedEvent(TimestampedBase):
    """Insert before acting on an event; the unique constraint makes the second insert fail."""

    __tablename__ = "processed_events"
    __table_args__ = (sa.UniqueConstraint("provider", "event_id"),)

    provider: Mapped[str] = mapped_column(sa.String(50))
    event_id: Mapped[str] = mapped_column(sa.String(255))
