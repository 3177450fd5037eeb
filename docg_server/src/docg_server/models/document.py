"""Templates and the documents generated from them (with lineage)."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import TimestampedBase

__all__ = ["GeneratedDocument", "Template"]


class Template(TimestampedBase):
    """A document template in storage; ``variables`` is what inspection found in it."""

    __tablename__ = "templates"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(200))
    storage_key: Mapped[str] = mapped_column(sa.String(1024))
    sha256: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[str] = mapped_column(sa.String(20))
    """The template's format: ``docx``, ``pptx``, ``xlsx``, ``html``..."""
    variables: Mapped[list[Any]] = mapped_column(default=list)


class GeneratedDocument(TimestampedBase):
    """A document a run produced, and where it came from (template and data hashes)."""

    __tablename__ = "generated_documents"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    execution_id: Mapped[str] = mapped_column(sa.String(100), index=True)
    """The engine's execution id (``docg_executions.id``)."""
    node_id: Mapped[str] = mapped_column(sa.String(100))
    template_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("templates.id", ondelete="SET NULL"), index=True
    )
    template_key: Mapped[str] = mapped_column(sa.String(1024))
    template_sha256: Mapped[str] = mapped_column(sa.String(64))
    data_sha256: Mapped[str] = mapped_column(sa.String(64))
    file_key: Mapped[str] = mapped_column(sa.String(1024))
    pdf_key: Mapped[str | None] = mapped_column(sa.String(1024))
    pages: Mapped[int | None]
    lineage: Mapped[dict[str, Any]] = mapped_column(default=dict)
