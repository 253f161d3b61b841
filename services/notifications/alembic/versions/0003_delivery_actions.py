"""delivery actions: operators' resend/close decisions on deliveries held for review

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 06:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "delivery_actions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("delivery_id", sa.String(length=36), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["notifications.deliveries.id"],
            name=op.f("fk_delivery_actions_delivery_id_deliveries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_actions")),
        schema="notifications",
    )
    op.create_index(
        op.f("ix_delivery_actions_delivery_id"),
        "delivery_actions",
        ["delivery_id"],
        unique=False,
        schema="notifications",
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_delivery_actions_delivery_id"),
        table_name="delivery_actions",
        schema="notifications",
    )
    op.drop_table("delivery_actions", schema="notifications")
