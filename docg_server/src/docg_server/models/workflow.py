"""Workflows, their nodes stored flat (ARCHITECTURE.md section 5) and AI variable mappings."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import TimestampedBase, check_in

if TYPE_CHECKING:
    from .organization import Organization

__all__ = [
    "AIGenerationMapping",
    "StructuralType",
    "TriggerType",
    "Workflow",
    "WorkflowNode",
    "WorkflowStatus",
]


class WorkflowStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"
    ARCHIVED = "archived"


class TriggerType(StrEnum):
    MANUAL = "manual"
    WEBHOOK = "webhook"
    SCHEDULED = "scheduled"


class StructuralType(StrEnum):
    SINGLE = "single"
    BRANCH = "branch"
    PATHS = "paths"
    LOOP = "loop"


class Workflow(TimestampedBase):
    """A workflow; ``definition`` is the workflow document, ``nodes`` its flat form."""

    __tablename__ = "workflows"
    __table_args__ = (
        check_in("status", [s.value for s in WorkflowStatus], name="status"),
        check_in("trigger_type", [t.value for t in TriggerType], name="trigger_type"),
        sa.CheckConstraint("version >= 1", name="version_positive"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str | None] = mapped_column(sa.Text())
    status: Mapped[str] = mapped_column(sa.String(20), default=WorkflowStatus.DRAFT.value)
    trigger_type: Mapped[str] = mapped_column(sa.String(20), default=TriggerType.MANUAL.value)
    webhook_token: Mapped[str | None] = mapped_column(sa.String(128), unique=True)
    """Secret part of the webhook URL; compared in constant time."""
    version: Mapped[int] = mapped_column(default=1)
    """Incremented on every saved change (optimistic concurrency)."""
    definition: Mapped[dict[str, Any]] = mapped_column(default=dict)

    organization: Mapped[Organization] = relationship(back_populates="workflows")
    nodes: Mapped[list[WorkflowNode]] = relationship(
        back_populates="workflow",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="WorkflowNode.position",
    )


class WorkflowNode(TimestampedBase):
    """One node of a workflow, flat: nodes inside a branch name it in ``parent_node_id``.

    ``node_id`` is the id used in the workflow document (``{{step.<node_id>...}}``);
    ``node_type`` is the app key (null for structural nodes such as a branch).
    """

    __tablename__ = "workflow_nodes"
    __table_args__ = (
        sa.UniqueConstraint("workflow_id", "node_id"),
        check_in("structural_type", [s.value for s in StructuralType], name="structural_type"),
    )

    workflow_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("workflows.id", ondelete="CASCADE"), index=True
    )
    node_id: Mapped[str] = mapped_column(sa.String(100))
    node_type: Mapped[str | None] = mapped_column(sa.String(100))
    action: Mapped[str | None] = mapped_column(sa.String(100))
    position: Mapped[int]
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    structural_type: Mapped[str] = mapped_column(sa.String(20), default=StructuralType.SINGLE.value)
    branch_conditions: Mapped[list[Any] | None]
    """Per branch: name, conditions and ``next_node_id`` (the first node of its path)."""
    parent_node_id: Mapped[str | None] = mapped_column(sa.String(100))
    branch_name: Mapped[str | None] = mapped_column(sa.String(200))

    workflow: Mapped[Workflow] = relationship(back_populates="nodes")


class AIGenerationMapping(TimestampedBase):
    """How an AI node fills one template variable: prompt, model and the fields it reads."""

    __tablename__ = "ai_generation_mappings"
    __table_args__ = (sa.UniqueConstraint("workflow_id", "node_id", "variable_name"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    workflow_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("workflows.id", ondelete="CASCADE"), index=True
    )
    node_id: Mapped[str] = mapped_column(sa.String(100))
    variable_name: Mapped[str] = mapped_column(sa.String(200))
    provider: Mapped[str] = mapped_column(sa.String(50))
    model: Mapped[str] = mapped_column(sa.String(100))
    prompt: Mapped[str] = mapped_column(sa.Text())
    source_fields: Mapped[list[Any]] = mapped_column(default=list)
    """The ``{{...}}`` expressions whose values the prompt receives."""
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """Model parameters (temperature, max_tokens, output format)."""
    fallback_value: Mapped[str | None] = mapped_column(sa.Text())
