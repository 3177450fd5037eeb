"""Organizations (the tenants) and their users."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from ..billing.plans import Plan, limits_for
from .base import TimestampedBase, check_in, utcnow

if TYPE_CHECKING:
    from .workflow import Workflow

__all__ = ["Organization", "Role", "User"]


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


_FREE = limits_for(Plan.FREE)


class Organization(TimestampedBase):
    """A tenant: every other row belongs to one. Limits of ``None`` are unlimited."""

    __tablename__ = "organizations"
    __table_args__ = (
        check_in("plan", [p.value for p in Plan], name="plan"),
        sa.CheckConstraint("documents_used >= 0", name="documents_used_not_negative"),
    )

    name: Mapped[str] = mapped_column(sa.String(200))
    plan: Mapped[str] = mapped_column(sa.String(20), default=Plan.FREE.value)
    documents_limit: Mapped[int | None] = mapped_column(default=_FREE.documents_per_month)
    documents_used: Mapped[int] = mapped_column(default=0)
    users_limit: Mapped[int | None] = mapped_column(default=_FREE.users)
    workflows_limit: Mapped[int | None] = mapped_column(default=_FREE.workflows)
    period_start: Mapped[datetime] = mapped_column(default=utcnow)
    """Start of the current billing period; ``documents_used`` counts from here."""
    stripe_customer_id: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    stripe_subscription_id: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    subscription_status: Mapped[str | None] = mapped_column(sa.String(30))
    """Stripe's status of the subscription (``active``, ``past_due``, ``canceled``...)."""
    current_period_end: Mapped[datetime | None]
    """When the paid period ends (from Stripe); ``period_start`` begins the usage count."""

    users: Mapped[list[User]] = relationship(
        back_populates="organization", cascade="all, delete-orphan", passive_deletes=True
    )
    workflows: Mapped[list[Workflow]] = relationship(
        back_populates="organization", cascade="all, delete-orphan", passive_deletes=True
    )

    def apply_plan(self, plan: str) -> None:
        """Switch to ``plan`` and copy its limits (usage is kept)."""
        limits = limits_for(plan)
        self.plan = Plan(plan).value
        self.documents_limit = limits.documents_per_month
        self.users_limit = limits.users
        self.workflows_limit = limits.workflows


class User(TimestampedBase):
    """A person who signs in; ``email`` is stored lower-case and unique."""

    __tablename__ = "users"
    __table_args__ = (
        check_in("role", [r.value for r in Role], name="role"),
        # Case-insensitive uniqueness held by the database, portably: the column only ever
        # holds the lower-case form, so a plain unique constraint compares case-insensitively.
        sa.CheckConstraint("email = lower(email)", name="email_lower_case"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(sa.String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(20), default=Role.MEMBER.value)
    name: Mapped[str | None] = mapped_column(sa.String(200))
    is_active: Mapped[bool] = mapped_column(default=True)

    organization: Mapped[Organization] = relationship(back_populates="users")

    @validates("email")
    def _normalise_email(self, _key: str, value: str) -> str:
        return value.strip().lower()
