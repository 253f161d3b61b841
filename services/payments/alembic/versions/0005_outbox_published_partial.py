"""outbox: ix_outbox_published_at holds published rows only (unpublished inserts skip it)

The relay purges by `published_at < cutoff`, which a partial index on the published rows
serves just as well; an event inserted unpublished no longer adds an entry to this btree
(the relay's update adds it when it publishes). Same change as dunning's 0004.

Revision ID: 0005_outbox_published_partial
Revises: 0004
Create Date: 2026-11-23 18:20:00
"""

from alembic import op
import sqlalchemy as sa

revision = '0005_outbox_published_partial'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_outbox_published_at', table_name='outbox', schema='payments')
    op.create_index('ix_outbox_published_at', 'outbox', ['published_at'], unique=False, schema='payments', postgresql_where=sa.text('published_at IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('ix_outbox_published_at', table_name='outbox', schema='payments', postgresql_where=sa.text('published_at IS NOT NULL'))
    op.create_index('ix_outbox_published_at', 'outbox', ['published_at'], unique=False, schema='payments')
