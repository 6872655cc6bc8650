"""sync engine: record outcomes, links with parts, pinned runs

Revision ID: 0005
Revises: 0004
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from portal.models.base import UTCDateTime

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sync_links', schema=None) as batch_op:
        batch_op.add_column(sa.Column('part', sa.String(length=96), server_default='', nullable=False))
        batch_op.add_column(sa.Column('customer_id', sa.String(length=32), server_default='', nullable=False))
        batch_op.add_column(sa.Column('details', sa.JSON(), server_default=sa.text("'{}'"), nullable=False))
        batch_op.drop_constraint('uq_sync_links_env_type_fusebill', type_='unique')
        batch_op.create_unique_constraint('uq_sync_links_env_type_fusebill_part', ['environment_id', 'entity_type', 'fusebill_id', 'part'])
        batch_op.create_index('ix_sync_links_customer', ['environment_id', 'customer_id'], unique=False)

    with op.batch_alter_table('sync_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('connection_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('cursor', UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('read_at', UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('customers_total', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('customers_done', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_foreign_key('fk_sync_runs_connection_id_qbo_connections', 'qbo_connections', ['connection_id'], ['id'], ondelete='SET NULL')

    op.create_table(
        'sync_records',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('environment_id', sa.Integer(), nullable=False),
        sa.Column('entity_type', sa.String(length=32), nullable=False),
        sa.Column('fusebill_id', sa.String(length=96), nullable=False),
        sa.Column('customer_id', sa.String(length=32), nullable=False),
        sa.Column('label', sa.String(length=200), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('reason', sa.String(length=1000), nullable=True),
        sa.Column('hint', sa.String(length=500), nullable=True),
        sa.Column('qbo_code', sa.String(length=16), nullable=True),
        sa.Column('qbo_id', sa.String(length=32), nullable=True),
        sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
        sa.Column('run_id', sa.Integer(), nullable=True),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.CheckConstraint("state IN ('synced', 'pending', 'failed', 'skipped')", name=op.f('ck_sync_records_state')),
        sa.ForeignKeyConstraint(['environment_id'], ['environments.id'], name=op.f('fk_sync_records_environment_id_environments'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['run_id'], ['sync_runs.id'], name=op.f('fk_sync_records_run_id_sync_runs'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_records')),
        sa.UniqueConstraint('environment_id', 'entity_type', 'fusebill_id', name='uq_sync_records_env_type_fusebill'),
    )
    with op.batch_alter_table('sync_records', schema=None) as batch_op:
        batch_op.create_index('ix_sync_records_env_state', ['environment_id', 'state'], unique=False)
        batch_op.create_index('ix_sync_records_env_customer', ['environment_id', 'customer_id'], unique=False)


def downgrade() -> None:
    op.drop_table('sync_records')
    with op.batch_alter_table('sync_runs', schema=None) as batch_op:
        batch_op.drop_constraint('fk_sync_runs_connection_id_qbo_connections', type_='foreignkey')
        for column in ('customers_done', 'customers_total', 'read_at', 'cursor', 'connection_id'):
            batch_op.drop_column(column)
    with op.batch_alter_table('sync_links', schema=None) as batch_op:
        batch_op.drop_index('ix_sync_links_customer')
        batch_op.drop_constraint('uq_sync_links_env_type_fusebill_part', type_='unique')
        batch_op.create_unique_constraint('uq_sync_links_env_type_fusebill', ['environment_id', 'entity_type', 'fusebill_id'])
        for column in ('details', 'customer_id', 'part'):
            batch_op.drop_column(column)
