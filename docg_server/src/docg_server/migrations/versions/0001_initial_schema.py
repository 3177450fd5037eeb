"""Initial schema: organizations, users, workflows and their nodes, connections, templates,
generated documents, AI mappings and processed events.

Revision ID: 0001
Revises:
Create Date: 2026-11-26 02:46:08.716263
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    op.create_table(
        "organizations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("plan", sa.String(length=20), nullable=False),
        sa.Column("documents_limit", sa.Integer(), nullable=True),
        sa.Column("documents_used", sa.Integer(), nullable=False),
        sa.Column("users_limit", sa.Integer(), nullable=True),
        sa.Column("workflows_limit", sa.Integer(), nullable=True),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stripe_customer_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "plan IN ('free', 'starter', 'pro', 'team', 'enterprise')",
            name=op.f("ck_organizations_plan"),
        ),
        sa.CheckConstraint(
            "documents_used >= 0", name=op.f("ck_organizations_documents_used_not_negative")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizations")),
        sa.UniqueConstraint("stripe_customer_id", name=op.f("uq_organizations_stripe_customer_id")),
    )
    op.create_table(
        "processed_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=50), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_processed_events")),
        sa.UniqueConstraint(
            "provider", "event_id", name=op.f("uq_processed_events_provider_event_id")
        ),
    )
    op.create_table(
        "data_source_connections",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("app_key", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("credentials", sa.Text(), nullable=False),
        sa.Column("scopes", JSON, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'expired', 'error')",
            name=op.f("ck_data_source_connections_status"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_data_source_connections_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_source_connections")),
        sa.UniqueConstraint(
            "organization_id", "name", name=op.f("uq_data_source_connections_organization_id_name")
        ),
    )
    op.create_index(
        op.f("ix_data_source_connections_organization_id"),
        "data_source_connections",
        ["organization_id"],
        unique=False,
    )

    op.create_table(
        "templates",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("storage_key", sa.String(length=1024), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("variables", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_templates_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_templates")),
    )
    op.create_index(
        op.f("ix_templates_organization_id"), "templates", ["organization_id"], unique=False
    )

    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("role IN ('owner', 'admin', 'member')", name=op.f("ck_users_role")),
        sa.CheckConstraint("email = lower(email)", name=op.f("ck_users_email_lower_case")),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_users_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_index(op.f("ix_users_organization_id"), "users", ["organization_id"], unique=False)

    op.create_table(
        "workflows",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("trigger_type", sa.String(length=20), nullable=False),
        sa.Column("webhook_token", sa.String(length=128), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('draft', 'active', 'paused', 'archived')", name=op.f("ck_workflows_status")
        ),
        sa.CheckConstraint(
            "trigger_type IN ('manual', 'webhook', 'scheduled')",
            name=op.f("ck_workflows_trigger_type"),
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_workflows_version_positive")),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_workflows_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflows")),
        sa.UniqueConstraint("webhook_token", name=op.f("uq_workflows_webhook_token")),
    )
    op.create_index(
        op.f("ix_workflows_organization_id"), "workflows", ["organization_id"], unique=False
    )

    op.create_table(
        "ai_generation_mappings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("workflow_id", sa.Uuid(), nullable=False),
        sa.Column("node_id", sa.String(length=100), nullable=False),
        sa.Column("variable_name", sa.String(length=200), nullable=False),
        sa.Column("provider", sa.String(length=50), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("source_fields", JSON, nullable=False),
        sa.Column("options", JSON, nullable=False),
        sa.Column("fallback_value", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_ai_generation_mappings_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
            name=op.f("fk_ai_generation_mappings_workflow_id_workflows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_generation_mappings")),
        sa.UniqueConstraint(
            "workflow_id",
            "node_id",
            "variable_name",
            name=op.f("uq_ai_generation_mappings_workflow_id_node_id_variable_name"),
        ),
    )
    op.create_index(
        op.f("ix_ai_generation_mappings_organization_id"),
        "ai_generation_mappings",
        ["organization_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_ai_generation_mappings_workflow_id"),
        "ai_generation_mappings",
        ["workflow_id"],
        unique=False,
    )

    op.create_table(
        "generated_documents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("execution_id", sa.String(length=100), nullable=False),
        sa.Column("node_id", sa.String(length=100), nullable=False),
        sa.Column("template_id", sa.Uuid(), nullable=True),
        sa.Column("template_key", sa.String(length=1024), nullable=False),
        sa.Column("template_sha256", sa.String(length=64), nullable=False),
        sa.Column("data_sha256", sa.String(length=64), nullable=False),
        sa.Column("file_key", sa.String(length=1024), nullable=False),
        sa.Column("pdf_key", sa.String(length=1024), nullable=True),
        sa.Column("pages", sa.Integer(), nullable=True),
        sa.Column("lineage", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_generated_documents_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["templates.id"],
            name=op.f("fk_generated_documents_template_id_templates"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_generated_documents")),
    )
    op.create_index(
        op.f("ix_generated_documents_execution_id"),
        "generated_documents",
        ["execution_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_generated_documents_organization_id"),
        "generated_documents",
        ["organization_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_generated_documents_template_id"),
        "generated_documents",
        ["template_id"],
        unique=False,
    )

    op.create_table(
        "workflow_nodes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("workflow_id", sa.Uuid(), nullable=False),
        sa.Column("node_id", sa.String(length=100), nullable=False),
        sa.Column("node_type", sa.String(length=100), nullable=True),
        sa.Column("action", sa.String(length=100), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("config", JSON, nullable=False),
        sa.Column("structural_type", sa.String(length=20), nullable=False),
        sa.Column("branch_conditions", JSON, nullable=True),
        sa.Column("parent_node_id", sa.String(length=100), nullable=True),
        sa.Column("branch_name", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "structural_type IN ('single', 'branch', 'paths', 'loop')",
            name=op.f("ck_workflow_nodes_structural_type"),
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
            name=op.f("fk_workflow_nodes_workflow_id_workflows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_nodes")),
        sa.UniqueConstraint(
            "workflow_id", "node_id", name=op.f("uq_workflow_nodes_workflow_id_node_id")
        ),
    )
    op.create_index(
        op.f("ix_workflow_nodes_workflow_id"), "workflow_nodes", ["workflow_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_workflow_nodes_workflow_id"), table_name="workflow_nodes")

    op.drop_table("workflow_nodes")
    op.drop_index(op.f("ix_generated_documents_template_id"), table_name="generated_documents")
    op.drop_index(op.f("ix_generated_documents_organization_id"), table_name="generated_documents")
    op.drop_index(op.f("ix_generated_documents_execution_id"), table_name="generated_documents")

    op.drop_table("generated_documents")
    op.drop_index(
        op.f("ix_ai_generation_mappings_workflow_id"), table_name="ai_generation_mappings"
    )
    op.drop_index(
        op.f("ix_ai_generation_mappings_organization_id"), table_name="ai_generation_mappings"
    )

    op.drop_table("ai_generation_mappings")
    op.drop_index(op.f("ix_workflows_organization_id"), table_name="workflows")

    op.drop_table("workflows")
    op.drop_index(op.f("ix_users_organization_id"), table_name="users")

    op.drop_table("users")
    op.drop_index(op.f("ix_templates_organization_id"), table_name="templates")

    op.drop_table("templates")
    op.drop_index(
        op.f("ix_data_source_connections_organization_id"), table_name="data_source_connections"
    )

    op.drop_table("data_source_connections")
    op.drop_table("processed_events")
    op.drop_table("organizations")
