"""event log indexes: keyset pages of sync_records by id per filter, and its exact-match search

Revision ID: 0013
Revises: 0012
"""
from __future__ import annotations

import sqlalchemy as sa  # noqa: F401
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

INDEXES = (
    ('ix_sync_records_env_id', ['environment_id', 'id']),
    ('ix_sync_records_env_state_id', ['environment_id', 'state', 'id']),
    ('ix_sync_records_env_type_id', ['environment_id', 'entity_type', 'id']),
    ('ix_sync_records_run_id', ['run_id', 'id']),
    ('ix_sync_records_env_updated', ['environment_id', 'updated_at']),
    ('ix_sync_records_env_fusebill', ['environment_id', 'fusebill_id']),
    ('ix_sync_records_env_qbo', ['environment_id', 'qbo_id']),
    ('ix_sync_records_env_label', ['environment_id', 'label']),
)


def upgrade() -> None:
    with op.batch_alter_table('sync_records', schema=None) as batch_op:
        for name, columns in INDEXES:
            batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sync_records', schema=None) as batch_op:
        for name, _ in reversed(INDEXES):
            batch_op.drop_index(name)
