"""auto apply credit reported

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 22:22:34.878736
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('qbo_connections', schema=None) as batch_op:
        batch_op.add_column(sa.Column('auto_apply_credit_reported', sa.Boolean(), server_default=sa.text('(true)'), nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('qbo_connections', schema=None) as batch_op:
        batch_op.drop_column('auto_apply_credit_reported')

