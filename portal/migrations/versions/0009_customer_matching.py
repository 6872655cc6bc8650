"""customer matching decisions

Revision ID: 0009
Revises: 0008
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from portal.models.base import UTCDateTime

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'customer_match_scans',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('environment_id', sa.Integer(), nullable=False),
        sa.Column('realm_id', sa.String(length=32), nullable=False),
        sa.Column('connection_id', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('requested_by_id', sa.Integer(), nullable=True),
        sa.Column('started_at', UTCDateTime(), nullable=False),
        sa.Column('finished_at', UTCDateTime(), nullable=True),
        sa.Column('fusebill_customers', sa.Integer(), server_default='0', nullable=False),
        sa.Column('qbo_customers', sa.Integer(), server_default='0', nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('queued', 'running', 'succeeded', 'failed')", name=op.f('ck_customer_match_scans_status')),
        sa.ForeignKeyConstraint(['environment_id'], ['environments.id'], name=op.f('fk_customer_match_scans_environment_id_environments'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['connection_id'], ['qbo_connections.id'], name=op.f('fk_customer_match_scans_connection_id_qbo_connections'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_customer_match_scans_requested_by_id_users'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_match_scans')),
    )
    with op.batch_alter_table('customer_match_scans', schema=None) as batch_op:
        batch_op.create_index('ix_customer_match_scans_env_started', ['environment_id', 'started_at'], unique=False)

    op.create_table(
        'customer_matches',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('environment_id', sa.Integer(), nullable=False),
        sa.Column('realm_id', sa.String(length=32), nullable=False),
        sa.Column('fusebill_customer_id', sa.String(length=32), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('email', sa.String(length=500), nullable=False),
        sa.Column('fusebill_status', sa.String(length=32), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('basis', sa.String(length=16), server_default='', nullable=False),
        sa.Column('qbo_customer_id', sa.String(length=32), nullable=True),
        sa.Column('qbo_name', sa.String(length=500), server_default='', nullable=False),
        sa.Column('qbo_email', sa.String(length=254), server_default='', nullable=False),
        sa.Column('ambiguous', sa.Boolean(), server_default=sa.text('false'), nullable=False),
        sa.Column('candidates', sa.JSON(), nullable=False),
        sa.Column('note', sa.String(length=500), server_default='', nullable=False),
        sa.Column('scan_id', sa.Integer(), nullable=True),
        sa.Column('found_at', UTCDateTime(), nullable=False),
        sa.CheckConstraint("basis IN ('', 'marker', 'email', 'name', 'linked')", name=op.f('ck_customer_matches_basis')),
        sa.ForeignKeyConstraint(['environment_id'], ['environments.id'], name=op.f('fk_customer_matches_environment_id_environments'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['scan_id'], ['customer_match_scans.id'], name=op.f('fk_customer_matches_scan_id_customer_match_scans'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_matches')),
        sa.UniqueConstraint('environment_id', 'realm_id', 'fusebill_customer_id', name='uq_customer_matches_env_realm_customer'),
    )

    op.create_table(
        'scanned_qbo_customers',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('environment_id', sa.Integer(), nullable=False),
        sa.Column('realm_id', sa.String(length=32), nullable=False),
        sa.Column('qbo_id', sa.String(length=32), nullable=False),
        sa.Column('display_name', sa.String(length=500), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('sync_token', sa.String(length=16), nullable=False),
        sa.Column('marker_customer_id', sa.String(length=32), server_default='', nullable=False),
        sa.Column('scan_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['environment_id'], ['environments.id'], name=op.f('fk_scanned_qbo_customers_environment_id_environments'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['scan_id'], ['customer_match_scans.id'], name=op.f('fk_scanned_qbo_customers_scan_id_customer_match_scans'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_scanned_qbo_customers')),
        sa.UniqueConstraint('environment_id', 'realm_id', 'qbo_id', name='uq_scanned_qbo_customers_env_realm_qbo'),
    )

    op.create_table(
        'customer_decisions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('environment_id', sa.Integer(), nullable=False),
        sa.Column('realm_id', sa.String(length=32), nullable=False),
        sa.Column('fusebill_customer_id', sa.String(length=32), nullable=False),
        sa.Column('choice', sa.String(length=16), nullable=False),
        sa.Column('qbo_customer_id', sa.String(length=32), nullable=True),
        sa.Column('qbo_name', sa.String(length=500), server_default='', nullable=False),
        sa.Column('qbo_sync_token', sa.String(length=16), server_default='0', nullable=False),
        sa.Column('decided_by_id', sa.Integer(), nullable=True),
        sa.Column('decided_by_label', sa.String(length=254), nullable=False),
        sa.Column('decided_at', UTCDateTime(), nullable=False),
        sa.Column('applied_at', UTCDateTime(), nullable=True),
        sa.CheckConstraint("choice IN ('create', 'link', 'dont_sync')", name=op.f('ck_customer_decisions_choice')),
        sa.CheckConstraint("choice <> 'link' OR qbo_customer_id IS NOT NULL", name=op.f('ck_customer_decisions_link_target')),
        sa.ForeignKeyConstraint(['environment_id'], ['environments.id'], name=op.f('fk_customer_decisions_environment_id_environments'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_customer_decisions_decided_by_id_users'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_decisions')),
        sa.UniqueConstraint('environment_id', 'realm_id', 'fusebill_customer_id', name='uq_customer_decisions_env_realm_customer'),
    )
    with op.batch_alter_table('customer_decisions', schema=None) as batch_op:
        batch_op.create_index('ix_customer_decisions_qbo', ['environment_id', 'realm_id', 'qbo_customer_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('customer_decisions', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_decisions_qbo')
    op.drop_table('customer_decisions')
    op.drop_table('scanned_qbo_customers')
    op.drop_table('customer_matches')
    with op.batch_alter_table('customer_match_scans', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_match_scans_env_started')
    op.drop_table('customer_match_scans')
