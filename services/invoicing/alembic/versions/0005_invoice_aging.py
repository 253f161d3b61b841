"""invoice_aging: the overdue sweep's marks in a narrow table of their own

Updating next_aging_at on invoices was never a HOT update (the column is indexed), so each
mark the sweep moved rewrote every index of the wide invoices table. Here a mark update
touches one narrow row and two small partial indexes.

Revision ID: 0005_invoice_aging
Revises: 0003_aging
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_invoice_aging"
down_revision = "0003_aging"
branch_labels = None
depends_on = None

S = "invoicing"
DUE = sa.text("next_aging_at IS NOT NULL")


def upgrade() -> None:
    op.create_table(
        "invoice_aging",
        sa.Column(
            "invoice_id",
            sa.String(36),
            sa.ForeignKey(f"{S}.invoices.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("aging_threshold", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_aging_at", sa.Date(), nullable=True),
        schema=S,
    )
    op.execute(
        "INSERT INTO invoicing.invoice_aging"
        " (invoice_id, account_id, currency, due_date, aging_threshold, next_aging_at)"
        " SELECT id, account_id, currency, due_date, aging_threshold, next_aging_at"
        " FROM invoicing.invoices"
    )
    op.create_index(
        "ix_invoice_aging_next_aging_at",
        "invoice_aging",
        ["next_aging_at"],
        schema=S,
        postgresql_where=DUE,
    )
    op.create_index(
        "ix_invoice_aging_account_id_next_aging_at",
        "invoice_aging",
        ["account_id", "next_aging_at"],
        schema=S,
        postgresql_where=DUE,
    )
    op.drop_index("ix_invoices_next_aging_at", table_name="invoices", schema=S)
    op.drop_column("invoices", "next_aging_at", schema=S)
    op.drop_column("invoices", "aging_threshold", schema=S)


def downgrade() -> None:
    op.add_column(
        "invoices",
        sa.Column("aging_threshold", sa.Integer(), server_default="0", nullable=False),
        schema=S,
    )
    op.add_column("invoices", sa.Column("next_aging_at", sa.Date(), nullable=True), schema=S)
    op.execute(
        "UPDATE invoicing.invoices AS i SET aging_threshold = a.aging_threshold,"
        " next_aging_at = a.next_aging_at FROM invoicing.invoice_aging AS a"
        " WHERE a.invoice_id = i.id"
    )
    op.create_index(
        "ix_invoices_next_aging_at",
        "invoices",
        ["next_aging_at"],
        schema=S,
        postgresql_where=DUE,
    )
    op.drop_table("invoice_aging", schema=S)
