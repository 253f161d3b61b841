"""audit: the primary key is (account_id, id), the index the reader uses; pk(id) dropped

Every audit record added one entry to pk_audit (id) and one to ix_audit_account_id_id
(account_id, id); the API reads an account's records through the second only. One unique
index on (account_id, id) serves that reader and identifies a record (ids stay unique:
an identity column generates them), so each record costs one btree insertion less.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 20:40:00
"""

from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute('CREATE UNIQUE INDEX pk_audit_account_id_id ON dunning.audit (account_id, id)')
    op.execute('ALTER TABLE dunning.audit DROP CONSTRAINT pk_audit')
    op.execute('ALTER TABLE dunning.audit ADD CONSTRAINT pk_audit PRIMARY KEY USING INDEX pk_audit_account_id_id')
    op.drop_index('ix_audit_account_id_id', table_name='audit', schema='dunning')


def downgrade() -> None:
    op.create_index('ix_audit_account_id_id', 'audit', ['account_id', 'id'], unique=False, schema='dunning')
    op.execute('ALTER TABLE dunning.audit DROP CONSTRAINT pk_audit')
    op.execute('ALTER TABLE dunning.audit ADD CONSTRAINT pk_audit PRIMARY KEY (id)')
