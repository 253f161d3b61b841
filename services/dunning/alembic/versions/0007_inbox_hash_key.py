"""inbox: one row per (consumer, event id) kept by a hash exclusion constraint, not a btree

Claiming the ids of a consumed batch is most of what the inbox costs, one row per event.
With the two-text btree primary key PostgreSQL spent ~3 us per id in the consumer benchmark;
the hash index costs ~1 us less, and the exclusion constraint over it is exact
(`dunlin_platform.inbox.KEY_DDL` explains the trade). Same change in every service.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

from dunlin_platform.migrations import inbox_hash_key, inbox_primary_key

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inbox_hash_key(op, "dunning")


def downgrade() -> None:
    inbox_primary_key(op, "dunning")
