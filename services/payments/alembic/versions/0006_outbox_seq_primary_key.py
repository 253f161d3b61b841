"""outbox: the primary key is `seq`; `id` has no index, `uq_outbox_seq` is gone

Every event added three btree entries: `pk_outbox` on the 36-character text `id`,
`uq_outbox_seq` and the partial `ix_outbox_unpublished` (both on `seq`). Nothing reads a
row by `id`, and the relay marks rows by `seq`: with `seq` the primary key an event costs
two 8-byte entries, and marking it published (an update that is never HOT) one entry
fewer too. The ids stay unique by construction (uuid4s and UUIDv7 blocks). Same change
in every service with an outbox.

One statement, so one ACCESS EXCLUSIVE lock while the new primary key is built: a sort of
the bigint `seq`, ~0.7 s per million rows here (the purge keeps the table to its retention).
The downgrade builds both old indexes again, and fails (changing nothing) if two rows
share an id.

Revision ID: 0006_outbox_seq_primary_key
Revises: 0005_outbox_published_partial
"""

from alembic import op

revision = "0006_outbox_seq_primary_key"
down_revision = "0005_outbox_published_partial"
branch_labels = None
depends_on = None

OUTBOX = '"payments".outbox'


def upgrade() -> None:
    op.execute(
        f"ALTER TABLE {OUTBOX} DROP CONSTRAINT pk_outbox, DROP CONSTRAINT uq_outbox_seq,"
        " ADD CONSTRAINT pk_outbox PRIMARY KEY (seq)"
    )


def downgrade() -> None:
    op.execute(
        f"ALTER TABLE {OUTBOX} DROP CONSTRAINT pk_outbox,"
        " ADD CONSTRAINT pk_outbox PRIMARY KEY (id), ADD CONSTRAINT uq_outbox_seq UNIQUE (seq)"
    )
