"""The declarative base: naming convention, UUID keys, timestamps, portable column types."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["Base", "TimestampedBase", "UTCDateTime", "check_in", "json_column_type", "utcnow"]

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Every constraint and index gets a deterministic name, so migrations can drop it by name."""


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware datetime stored in UTC; SQLite keeps naive UTC, read back as aware.

    Migrations render it as ``sa.DateTime(timezone=True)`` (see the migrations' env.py).
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a timezone-aware column; attach a tzinfo")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def json_column_type() -> sa.types.TypeEngine[Any]:
    """JSON (JSONB on PostgreSQL); Python None is stored as SQL NULL."""
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


def check_in(column: str, values: Iterable[str], name: str) -> sa.CheckConstraint:
    """A named CHECK constraint: ``column IN (values)`` (portable, unlike native enums)."""
    quoted = ", ".join("'" + value.replace("'", "''") + "'" for value in values)
    return sa.CheckConstraint(f"{column} IN ({quoted})", name=name)


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy's declarative configuration
        datetime: UTCDateTime(),
        dict[str, Any]: json_column_type(),
        list[Any]: json_column_type(),
        uuid.UUID: sa.Uuid(),
    }


class TimestampedBase(Base):
    """A UUID primary key and ``created_at`` / ``updated_at`` (timezone-aware, UTC)."""

    __abstract__ = True

    # sort_order: the key first and the timestamps last in CREATE TABLE.
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4, sort_order=-1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, sort_order=1)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, sort_order=1)
