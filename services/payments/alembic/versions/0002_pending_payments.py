"""pending_payments: ERP payments held until their account is registered

Revision ID: 0002
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

S = "payments"


def upgrade() -> None:
    op.create_table(
        "pending_payments",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("source_id", sa.String(length=100), nullable=False),
        sa.Column("erp_account_id", sa.String(length=100), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("traceparent", sa.String(length=256), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("payment_id", sa.String(length=36), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_payments")),
        sa.UniqueConstraint("source_id", name=op.f("uq_pending_payments_source_id")),
        schema=S,
    )
    op.create_index(
        "ix_pending_payments_waiting",
        "pending_payments",
        ["erp_account_id", "id"],
        unique=False,
        schema=S,
        postgresql_where=sa.text("status = 'waiting'"),
    )


def downgrade() -> None:
    op.drop_index("ix_pending_payments_waiting", table_name="pending_payments", schema=S)
    op.drop_table("pending_payments", schema=S)
