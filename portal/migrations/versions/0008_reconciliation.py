"""reconciliation reports read live from QBO

Revision ID: 0008
Revises: 0007
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from portal.models.base import UTCDateTime
from portal.models.reconciliation import DecimalText

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'reconciliation_reports',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('environment_id', sa.Integer(), nullable=False),
        sa.Column('realm_id', sa.String(length=32), nullable=False),
        sa.Column('connection_id', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('requested_by_id', sa.Integer(), nullable=True),
        sa.Column('requested_at', UTCDateTime(), nullable=False),
        sa.Column('started_at', UTCDateTime(), nullable=True),
        sa.Column('finished_at', UTCDateTime(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('customers_checked', sa.Integer(), server_default='0', nullable=False),
        sa.Column('matched', sa.Integer(), server_default='0', nullable=False),
        sa.Column('mismatched', sa.Integer(), server_default='0', nullable=False),
        sa.Column('accepted_pairs', sa.Integer(), server_default='0', nullable=False),
        sa.Column('missing_in_qbo', sa.Integer(), server_default='0', nullable=False),
        sa.Column('not_synced', sa.Integer(), server_default='0', nullable=False),
        sa.Column('total_difference', sa.JSON(), nullable=False),
        sa.Column('ledgers', sa.JSON(), nullable=False),
        sa.Column('details', sa.JSON(), nullable=False),
        sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name=op.f('ck_reconciliation_reports_status')),
        sa.ForeignKeyConstraint(['environment_id'], ['environments.id'], name=op.f('fk_reconciliation_reports_environment_id_environments'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['connection_id'], ['qbo_connections.id'], name=op.f('fk_reconciliation_reports_connection_id_qbo_connections'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_reconciliation_reports_requested_by_id_users'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_reconciliation_reports')),
    )
    with op.batch_alter_table('reconciliation_reports', schema=None) as batch_op:
        batch_op.create_index('ix_reconciliation_reports_environment', ['environment_id', 'id'], unique=False)
        batch_op.create_index('uq_reconciliation_reports_one_active', ['environment_id'], unique=True,
                              sqlite_where=sa.text("status IN ('queued', 'running')"),
                              postgresql_where=sa.text("status IN ('queued', 'running')"))

    op.create_table(
        'reconciliation_lines',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('report_id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.String(length=32), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('fusebill_ar', DecimalText(), nullable=True),
        sa.Column('qbo_balance', DecimalText(), nullable=True),
        sa.Column('difference', DecimalText(), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('qbo_customer_id', sa.String(length=32), nullable=True),
        sa.Column('pair_refund_open', DecimalText(), nullable=True),
        sa.Column('pair_unapplied', DecimalText(), nullable=True),
        sa.Column('note', sa.String(length=500), nullable=True),
        sa.Column('rank', sa.Integer(), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.CheckConstraint("status IN ('mismatch', 'missing-in-QBO', 'accepted-pair', 'matched', 'not-synced')", name=op.f('ck_reconciliation_lines_status')),
        sa.ForeignKeyConstraint(['report_id'], ['reconciliation_reports.id'], name=op.f('fk_reconciliation_lines_report_id_reconciliation_reports'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_reconciliation_lines')),
    )
    with op.batch_alter_table('reconciliation_lines', schema=None) as batch_op:
        batch_op.create_index('ix_reconciliation_lines_report_order', ['report_id', 'rank', 'size'], unique=False)
        batch_op.create_index('ix_reconciliation_lines_report_customer', ['report_id', 'customer_id'], unique=False)


def downgrade() -> None:
    op.drop_table('reconciliation_lines')
    op.drop_table('reconciliation_reports')
