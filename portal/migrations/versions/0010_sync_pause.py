"""pause and resume an account's syncs

Revision ID: 0010
Revises: 0009
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from portal.models.base import UTCDateTime

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('syncs_paused_at', UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('syncs_paused_reason', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('syncs_paused_by', sa.String(length=254), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('syncs_paused_by')
        batch_op.drop_column('syncs_paused_reason')
        batch_op.drop_column('syncs_paused_at')
