"""accounts: the customer's time zone, so an installment is missed after its day ends there

Revision ID: 0008_account_time_zone
Revises: 0007_inbox_hash_key
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_account_time_zone"
down_revision = "0007_inbox_hash_key"
branch_labels = None
depends_on = None

S = "payments"


def upgrade() -> None:
    op.add_column(
        "accounts",
        sa.Column("time_zone", sa.String(length=64), nullable=False, server_default="UTC"),
        schema=S,
    )


def downgrade() -> None:
    op.drop_column("accounts", "time_zone", schema=S)
