"""deliveries.traceparent: the send continues the trace of the request

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 07:00:00
"""

from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "deliveries",
        sa.Column("traceparent", sa.String(length=256), nullable=True),
        schema="notifications",
    )


def downgrade() -> None:
    op.drop_column("deliveries", "traceparent", schema="notifications")
