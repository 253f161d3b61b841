"""ERP payment returns: the source's return id on a reversal, returns held with their payment

Revision ID: 0004
Revises: 0003
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

S = "payments"


def upgrade() -> None:
    op.add_column("payments", sa.Column("reversal_source_id", sa.String(length=100)), schema=S)
    op.add_column(
        "pending_payments",
        sa.Column("return_payload", postgresql.JSONB(astext_type=sa.Text())),
        schema=S,
    )
    op.add_column(
        "pending_payments", sa.Column("return_traceparent", sa.String(length=256)), schema=S
    )


def downgrade() -> None:
    op.drop_column("pending_payments", "return_traceparent", schema=S)
    op.drop_column("pending_payments", "return_payload", schema=S)
    op.drop_column("payments", "reversal_source_id", schema=S)
