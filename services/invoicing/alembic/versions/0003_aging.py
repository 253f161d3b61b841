"""Aging: the overdue sweep's columns and index, the aging report's covering index, tag index

Revision ID: 0003_aging
Revises: 0002_ledger
"""

from alembic import op
import sqlalchemy as sa

revision = "0003_aging"
down_revision = "0002_ledger"
branch_labels = None
depends_on = None

S = "invoicing"
OPEN = sa.text("status IN ('open', 'partially_paid')")


def upgrade() -> None:
    op.add_column(
        "invoices",
        sa.Column("aging_threshold", sa.Integer(), server_default="0", nullable=False),
        schema=S,
    )
    op.add_column("invoices", sa.Column("next_aging_at", sa.Date(), nullable=True), schema=S)
    # Nothing has been announced yet: every open invoice is first due the day after its due
    # date, so the first sweep announces the ones already overdue at the age they have.
    op.execute(
        f"UPDATE {S}.invoices SET next_aging_at = due_date + 1"
        " WHERE status IN ('open', 'partially_paid') AND balance_minor > 0"
    )
    op.create_index(
        "ix_invoices_next_aging_at",
        "invoices",
        ["next_aging_at"],
        schema=S,
        postgresql_where=sa.text("next_aging_at IS NOT NULL"),
    )
    op.create_index(
        "ix_invoices_open_currency_due_date",
        "invoices",
        ["currency", "due_date"],
        schema=S,
        postgresql_include=["balance_minor", "account_id"],
        postgresql_where=OPEN,
    )
    op.create_index(
        "ix_invoices_open_account_id_due_date",
        "invoices",
        ["account_id", "due_date"],
        schema=S,
        postgresql_include=["currency", "balance_minor"],
        postgresql_where=OPEN,
    )
    op.create_index("ix_accounts_tags", "accounts", ["tags"], schema=S, postgresql_using="gin")


def downgrade() -> None:
    op.drop_index("ix_accounts_tags", table_name="accounts", schema=S)
    op.drop_index("ix_invoices_open_account_id_due_date", table_name="invoices", schema=S)
    op.drop_index("ix_invoices_open_currency_due_date", table_name="invoices", schema=S)
    op.drop_index("ix_invoices_next_aging_at", table_name="invoices", schema=S)
    op.drop_column("invoices", "next_aging_at", schema=S)
    op.drop_column("invoices", "aging_threshold", schema=S)
