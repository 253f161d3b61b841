"""accounts.state as text: the service's own JSON, never queried in SQL

jsonb parsed every written state and printed every read one again (~70 us of database CPU
per ~1 kB state on the benchmark machine): text stores the JSON as the service wrote it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 09:05:00
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column('accounts', 'state', type_=sa.Text(), existing_type=postgresql.JSONB(astext_type=sa.Text()), existing_nullable=False, postgresql_using='CAST(state AS text)', schema='risk')


def downgrade() -> None:
    op.alter_column('accounts', 'state', type_=postgresql.JSONB(astext_type=sa.Text()), existing_type=sa.Text(), existing_nullable=False, postgresql_using='CAST(state AS jsonb)', schema='risk')
