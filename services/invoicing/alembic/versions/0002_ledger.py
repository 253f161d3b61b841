"""AR ledger: ledger entries, payment applications, held allocations, overpayments,
adjustments, disputes; ledger columns on invoices; an `invoice` entry for every invoice

Revision ID: 0002_ledger
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa

revision = "0002_ledger"
down_revision = "0001"
branch_labels = None
depends_on = None

S = "invoicing"
KINDS = (
    "invoice",
    "payment",
    "reversal",
    "credit_note",
    "debit_note",
    "write_off",
    "amendment",
    "cancellation",
    "credit_applied",
)


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    for column in ("paid_minor", "written_off_minor", "disputed_minor"):
        op.add_column(
            "invoices",
            sa.Column(column, sa.BigInteger(), server_default="0", nullable=False),
            schema=S,
        )
    op.add_column("invoices", sa.Column("settled_on", sa.Date(), nullable=True), schema=S)
    op.add_column("invoices", _ts("erp_event_time", True), schema=S)

    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("invoice_id", sa.String(36), nullable=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("source_id", sa.String(100), nullable=False),
        _ts("created_at"),
        sa.CheckConstraint(
            "kind IN (" + ", ".join(f"'{k}'" for k in KINDS) + ")",
            name=op.f("ck_ledger_entries_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
        sa.UniqueConstraint("seq", name=op.f("uq_ledger_entries_seq")),
        schema=S,
    )
    for column in ("account_id", "invoice_id", "effective_date"):
        op.create_index(op.f(f"ix_ledger_entries_{column}"), "ledger_entries", [column], schema=S)

    op.create_table(
        "payment_applications",
        sa.Column("payment_id", sa.String(100), nullable=False),
        sa.Column("invoice_id", sa.String(36), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("applied_minor", sa.BigInteger(), nullable=False),
        sa.Column("reversed_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("payment_id", "invoice_id", name=op.f("pk_payment_applications")),
        schema=S,
    )
    op.create_index(
        op.f("ix_payment_applications_account_id"),
        "payment_applications",
        ["account_id"],
        schema=S,
    )

    op.create_table(
        "held_allocations",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("payment_id", sa.String(100), nullable=False),
        sa.Column("invoice_ref", sa.String(100), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        _ts("created_at"),
        _ts("resolved_at", True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_held_allocations")),
        schema=S,
    )
    op.create_index(
        op.f("ix_held_allocations_payment_id"), "held_allocations", ["payment_id"], schema=S
    )
    op.create_index(
        op.f("ix_held_allocations_account_id"), "held_allocations", ["account_id"], schema=S
    )
    op.create_index(
        "ix_held_allocations_invoice_ref_held",
        "held_allocations",
        ["invoice_ref"],
        schema=S,
        postgresql_where=sa.text("status = 'held'"),
    )

    op.create_table(
        "overpayments",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("payment_id", sa.String(100), nullable=False),
        sa.Column("invoice_id", sa.String(36), nullable=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("reversed_minor", sa.BigInteger(), server_default="0", nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_overpayments")),
        schema=S,
    )
    op.create_index(op.f("ix_overpayments_account_id"), "overpayments", ["account_id"], schema=S)
    op.create_index(op.f("ix_overpayments_payment_id"), "overpayments", ["payment_id"], schema=S)

    op.create_table(
        "invoice_adjustments",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("invoice_id", sa.String(36), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_adjustments")),
        schema=S,
    )
    op.create_index(
        op.f("ix_invoice_adjustments_invoice_id"), "invoice_adjustments", ["invoice_id"], schema=S
    )

    op.create_table(
        "disputes",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("invoice_id", sa.String(36), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(20), nullable=False),
        sa.Column("contact_id", sa.String(100), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("opened_by", sa.String(200), nullable=False),
        _ts("opened_at"),
        sa.Column("resolved_by", sa.String(200), nullable=True),
        _ts("resolved_at", True),
        sa.Column("resolution_note", sa.Text(), nullable=True),
        sa.Column("credited_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("credit_note_id", sa.String(36), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disputes")),
        sa.UniqueConstraint("seq", name=op.f("uq_disputes_seq")),
        schema=S,
    )
    op.create_index(op.f("ix_disputes_invoice_id"), "disputes", ["invoice_id"], schema=S)
    op.create_index(op.f("ix_disputes_account_id"), "disputes", ["account_id"], schema=S)
    op.create_index("ix_disputes_status_seq", "disputes", ["status", "seq"], schema=S)

    # Every invoice issued before the ledger existed opens the ledger with its total.
    op.execute(
        f"""
        INSERT INTO {S}.ledger_entries
            (id, account_id, invoice_id, kind, amount_minor, currency, effective_date,
             source_id, created_at)
        SELECT gen_random_uuid()::text, account_id, id, 'invoice', total_minor, currency,
               issue_date, id, created_at
        FROM {S}.invoices
        ORDER BY seq
        """
    )


def downgrade() -> None:
    for table in (
        "disputes",
        "invoice_adjustments",
        "overpayments",
        "held_allocations",
        "payment_applications",
        "ledger_entries",
    ):
        op.drop_table(table, schema=S)
    for column in (
        "erp_event_time",
        "settled_on",
        "disputed_minor",
        "written_off_minor",
        "paid_minor",
    ):
        op.drop_column("invoices", column, schema=S)
