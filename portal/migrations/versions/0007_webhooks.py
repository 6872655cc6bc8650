"""webhooks: a per-environment Fusebill webhook endpoint (token looked up by hash) and its key

Revision ID: 0007
Revises: 0006
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('environments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('webhook_token_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('webhook_secret_ciphertext', sa.Text(), nullable=True))
        batch_op.create_index('ix_environments_webhook_token_hash', ['webhook_token_hash'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('environments', schema=None) as batch_op:
        batch_op.drop_index('ix_environments_webhook_token_hash')
        batch_op.drop_column('webhook_secret_ciphertext')
        batch_op.drop_column('webhook_token_hash')
