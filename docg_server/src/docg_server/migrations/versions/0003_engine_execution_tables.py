"""The engine's execution tables (docg_core.sqlstore), adopted as part of the server's schema.

A database where the engine already created them (``docg run`` with a SQL store) keeps them
and their rows: only missing tables are created.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 04:25:15.776459
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "docg_datastore" not in existing:
        _create_datastore()
    if "docg_dedupe_keys" not in existing:
        _create_dedupe_keys()
    if "docg_executions" not in existing:
        _create_executions()
    if "docg_steps" not in existing:
        _create_steps()


def _create_datastore() -> None:
    op.create_table(
        "docg_datastore",
        sa.Column("scope", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column(
            "value",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True), "postgresql"
            ),
            nullable=True,
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_docg_datastore")),
    )


def _create_dedupe_keys() -> None:
    op.create_table(
        "docg_dedupe_keys",
        sa.Column("scope", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_docg_dedupe_keys")),
    )


def _create_executions() -> None:
    op.create_table(
        "docg_executions",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("flow_id", sa.String(), nullable=True),
        sa.Column("flow_name", sa.String(), nullable=False),
        sa.Column("organization_id", sa.String(), nullable=True),
        sa.Column(
            "workflow",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True), "postgresql"
            ),
            nullable=False,
        ),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column(
            "trigger_data",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True), "postgresql"
            ),
            nullable=True,
        ),
        sa.Column("test_run", sa.Boolean(), nullable=False),
        sa.Column("until_step", sa.String(), nullable=True),
        sa.Column(
            "mock_data",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True), "postgresql"
            ),
            nullable=True,
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_docg_executions")),
        sa.UniqueConstraint("id", name=op.f("uq_docg_executions_id")),
    )
    with op.batch_alter_table("docg_executions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_docg_executions_flow_id"), ["flow_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_docg_executions_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_docg_executions_status"), ["status"], unique=False)


def _create_steps() -> None:
    op.create_table(
        "docg_steps",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("execution_id", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.String(), nullable=False),
        sa.Column("app", sa.String(), nullable=True),
        sa.Column("action", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column(
            "data_in",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True), "postgresql"
            ),
            nullable=True,
        ),
        sa.Column(
            "data_out",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True), "postgresql"
            ),
            nullable=True,
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_code", sa.String(), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("wait_reason", sa.Text(), nullable=True),
        sa.Column("wait_resume_token", sa.String(), nullable=True),
        sa.Column("wait_resume_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("wait_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["docg_executions.id"],
            name=op.f("fk_docg_steps_execution_id_docg_executions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_docg_steps")),
        sa.UniqueConstraint("execution_id", "key", name=op.f("uq_docg_steps_execution_id_key")),
    )
    with op.batch_alter_table("docg_steps", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_docg_steps_wait_resume_at"), ["wait_resume_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_docg_steps_wait_resume_token"), ["wait_resume_token"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("docg_steps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_docg_steps_wait_resume_token"))
        batch_op.drop_index(batch_op.f("ix_docg_steps_wait_resume_at"))

    op.drop_table("docg_steps")
    with op.batch_alter_table("docg_executions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_docg_executions_status"))
        batch_op.drop_index(batch_op.f("ix_docg_executions_organization_id"))
        batch_op.drop_index(batch_op.f("ix_docg_executions_flow_id"))

    op.drop_table("docg_executions")
    op.drop_table("docg_dedupe_keys")
    op.drop_table("docg_datastore")
