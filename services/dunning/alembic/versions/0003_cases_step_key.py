"""cases.step_key: the current step of open cases, counted by the dunlin_dunning_cases gauge

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 09:00:00
"""

from alembic import op
import sqlalchemy as sa

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('cases', sa.Column('step_key', sa.String(length=50), nullable=True), schema='dunning')
    op.execute(
        "UPDATE dunning.cases SET step_key = CAST(state AS jsonb) -> 'progress' -> 'steps' -> -1 ->> 'key' "
        "WHERE status = 'open'"
    )
    op.create_index('ix_cases_open_step_key', 'cases', ['step_key'], unique=False, schema='dunning', postgresql_where=sa.text("status = 'open'"))


def downgrade() -> None:
    op.drop_index('ix_cases_open_step_key', table_name='cases', schema='dunning', postgresql_where=sa.text("status = 'open'"))
    op.drop_column('cases', 'step_key', schema='dunning')
