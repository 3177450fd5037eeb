"""Billing state from Stripe, OAuth authorization requests, and credential versions for
serialised token refresh.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 04:40:06.672276
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oauth_states",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=50), nullable=False),
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("code_verifier", sa.Text(), nullable=False),
        sa.Column("redirect_uri", sa.String(length=2048), nullable=False),
        sa.Column("connection_name", sa.String(length=200), nullable=False),
        sa.Column(
            "scopes",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True), "postgresql"
            ),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_oauth_states_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_oauth_states_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_states")),
        sa.UniqueConstraint("state_hash", name=op.f("uq_oauth_states_state_hash")),
    )
    with op.batch_alter_table("oauth_states", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_oauth_states_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_oauth_states_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("data_source_connections", schema=None) as batch_op:
        # Existing rows start at version 1; the default is dropped again below (the model
        # sets it), so the schema matches the models exactly.
        batch_op.add_column(
            sa.Column("credentials_version", sa.Integer(), nullable=False, server_default="1")
        )
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("data_source_connections", schema=None) as batch_op:
        batch_op.alter_column("credentials_version", server_default=None)

    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("stripe_subscription_id", sa.String(length=255), nullable=True)
        )
        batch_op.add_column(sa.Column("subscription_status", sa.String(length=30), nullable=True))
        batch_op.add_column(
            sa.Column("current_period_end", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_organizations_stripe_subscription_id"), ["stripe_subscription_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_organizations_stripe_subscription_id"), type_="unique"
        )
        batch_op.drop_column("current_period_end")
        batch_op.drop_column("subscription_status")
        batch_op.drop_column("stripe_subscription_id")

    with op.batch_alter_table("data_source_connections", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
        batch_op.drop_column("credentials_version")

    with op.batch_alter_table("oauth_states", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_states_user_id"))
        batch_op.drop_index(batch_op.f("ix_oauth_states_organization_id"))

    op.drop_table("oauth_states")
