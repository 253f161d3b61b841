"""inbox: a BRIN index on processed_at, for the purge of ids older than the retention

Consumed ids used to stay forever. The runtime now deletes those older than
INBOX_RETENTION_DAYS (30 by default), hourly; rows arrive in processed_at order, so a BRIN
index finds the oldest at next to no cost per claim. Same change in every service.

Revision ID: 0008_inbox_processed_at_brin
Revises: 0007_inbox_hash_key
"""

from alembic import op

from dunlin_platform.migrations import drop_inbox_purge_index, inbox_purge_index

revision = "0008_inbox_processed_at_brin"
down_revision = "0007_inbox_hash_key"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inbox_purge_index(op, "notifications")


def downgrade() -> None:
    drop_inbox_purge_index(op, "notifications")
