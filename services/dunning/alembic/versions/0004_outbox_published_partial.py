"""outbox: ix_outbox_published_at holds published rows only (unpublished inserts skip it)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 16:05:00
"""

from alembic import op
import sqlalchemy as sa

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_outbox_published_at', table_name='outbox', schema='dunning')
    op.create_index('ix_outbox_published_at', 'outbox', ['published_at'], unique=False, schema='dunning', postgresql_where=sa.text('published_at IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('ix_outbox_published_at', table_name='outbox', schema='dunning', postgresql_where=sa.text('published_at IS NOT NULL'))
    op.create_index('ix_outbox_published_at', 'outbox', ['published_at'], unique=False, schema='dunning')
