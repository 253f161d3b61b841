"""ix_invoices_open_account_id_due_date covers the overdue sweep's read of an account's
overdue invoices (undisputed balance, number, id), so the sweep reads the index alone

The index is replaced, not joined by a second one: an issued invoice still costs one entry in
it, a little wider. The other readers of the index (per-account aging, the hierarchy) keep
its key.

Revision ID: 0006_overdue_covering_index
Revises: 0005_invoice_aging
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_overdue_covering_index"
down_revision = "0005_invoice_aging"
branch_labels = None
depends_on = None

S = "invoicing"
NAME = "ix_invoices_open_account_id_due_date"
OPEN = sa.text("status IN ('open', 'partially_paid')")


def _replace(include: list[str]) -> None:
    op.drop_index(NAME, table_name="invoices", schema=S)
    op.create_index(
        NAME,
        "invoices",
        ["account_id", "due_date"],
        schema=S,
        postgresql_include=include,
        postgresql_where=OPEN,
    )


def upgrade() -> None:
    _replace(["currency", "balance_minor", "disputed_minor", "invoice_number", "id"])


def downgrade() -> None:
    _replace(["currency", "balance_minor"])
