"""Platform tables of the dunning schema: outbox, inbox, idempotency keys

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 06:00:00
"""

from alembic import op
import sqlalchemy as sa

from dunlin_platform.migrations import create_outbox_trigger
from dunlin_platform.outbox import JsonText
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('idempotency_keys',
    sa.Column('principal', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('request_fingerprint', sa.String(length=64), nullable=False),
    sa.Column('status', sa.Integer(), nullable=True),
    sa.Column('response_body', sa.LargeBinary(), nullable=True),
    sa.Column('response_headers', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('principal', 'key', name=op.f('pk_idempotency_keys')),
    schema='dunning'
    )
    op.create_index('ix_idempotency_keys_created_at', 'idempotency_keys', ['created_at'], unique=False, schema='dunning')
    op.create_table('inbox',
    sa.Column('consumer', sa.String(length=200), nullable=False),
    sa.Column('event_id', sa.String(length=200), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('consumer', 'event_id', name=op.f('pk_inbox')),
    schema='dunning'
    )
    op.create_table('outbox',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.BigInteger(), sa.Identity(always=True), nullable=False),
    sa.Column('aggregatetype', sa.String(length=100), nullable=False),
    sa.Column('aggregateid', sa.String(length=100), nullable=False),
    sa.Column('type', sa.String(length=200), nullable=False),
    sa.Column('topic', sa.String(length=200), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('payload', JsonText(), nullable=False),
    sa.Column('tracingspancontext', sa.String(length=256), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('seq', name=op.f('uq_outbox_seq')),
    schema='dunning'
    )
    op.create_index('ix_outbox_published_at', 'outbox', ['published_at'], unique=False, schema='dunning')
    op.create_index('ix_outbox_unpublished', 'outbox', ['seq'], unique=False, schema='dunning', postgresql_where=sa.text('published_at IS NULL'))
    create_outbox_trigger(op, "dunning")


def downgrade() -> None:
    op.execute('DROP FUNCTION IF EXISTS "dunning".outbox_notify() CASCADE')
    op.drop_table('outbox', schema='dunning')
    op.drop_table('inbox', schema='dunning')
    op.drop_table('idempotency_keys', schema='dunning')
