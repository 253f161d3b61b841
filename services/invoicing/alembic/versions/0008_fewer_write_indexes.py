"""Two fewer index entries per issued invoice: drop the indexes no query needs alone

Every new invoice (POST /invoices, ERP ingestion) wrote 8 `invoices` index entries and
5 `ledger_entries` ones. Two of them serve no query on their own:

- `ix_ledger_entries_invoice_id`: no statement reads the ledger by invoice (the reports
  filter by account and effective date, and join invoices through the invoices' key).
- `ix_invoices_open_currency_due_date`: the aging report's index-only aggregate over open
  invoices. `ix_invoices_open_account_id_due_date` holds the same rows (same predicate)
  and, since 0006, every column that aggregate reads (currency, due_date, balance_minor,
  account_id), so the report stays one index-only scan, over the account index.

Revision ID: 0008_fewer_write_indexes
Revises: 0007_outbox_published_partial
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_fewer_write_indexes"
down_revision = "0007_outbox_published_partial"
branch_labels = None
depends_on = None

S = "invoicing"
OPEN = sa.text("status IN ('open', 'partially_paid')")


def upgrade() -> None:
    op.drop_index("ix_ledger_entries_invoice_id", table_name="ledger_entries", schema=S)
    op.drop_index("ix_invoices_open_currency_due_date", table_name="invoices", schema=S)


def downgrade() -> None:
    op.create_index(
        "ix_invoices_open_currency_due_date",
        "invoices",
        ["currency", "due_date"],
        schema=S,
        postgresql_include=["balance_minor", "account_id"],
        postgresql_where=OPEN,
    )
    op.create_index("ix_ledger_entries_invoice_id", "ledger_entries", ["invoice_id"], schema=S)
