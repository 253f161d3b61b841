"""payment_plans: who cancelled a plan, when and why

Revision ID: 0003
Revises: 0002
"""

from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

S = "payments"


def upgrade() -> None:
    op.add_column(
        "payment_plans", sa.Column("cancelled_at", sa.DateTime(timezone=True)), schema=S
    )
    op.add_column("payment_plans", sa.Column("cancelled_by", sa.String(length=200)), schema=S)
    op.add_column(
        "payment_plans", sa.Column("cancellation_reason", sa.String(length=500)), schema=S
    )


def downgrade() -> None:
    for column in ("cancellation_reason", "cancelled_by", "cancelled_at"):
        op.drop_column("payment_plans", column, schema=S)
