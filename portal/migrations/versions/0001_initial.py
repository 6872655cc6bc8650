"""accounts, users, enablement requests, audit log, sign-in throttles

Revision ID: 0001
Revises:
Create Date: 2026-11-25 21:43:31.268465
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import portal.models.base

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('fusebill_account_id', sa.String(length=64), nullable=False),
    sa.Column('integration_enabled', sa.Boolean(), server_default=sa.text('(false)'), nullable=False),
    sa.Column('active_environment', sa.String(length=16), server_default='sandbox', nullable=False),
    sa.Column('created_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.Column('enablement_changed_at', portal.models.base.UTCDateTime(), nullable=True),
    sa.CheckConstraint("active_environment IN ('sandbox', 'production')", name=op.f('ck_accounts_active_environment')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_accounts')),
    sa.UniqueConstraint('fusebill_account_id', name=op.f('uq_accounts_fusebill_account_id'))
    )
    op.create_table('sign_in_throttles',
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failure_at', portal.models.base.UTCDateTime(), nullable=True),
    sa.Column('blocked_until', portal.models.base.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_sign_in_throttles'))
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), server_default=sa.text('(true)'), nullable=False),
    sa.Column('created_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.Column('last_signed_in_at', portal.models.base.UTCDateTime(), nullable=True),
    sa.CheckConstraint("(role = 'admin' AND account_id IS NOT NULL) OR (role = 'support' AND account_id IS NULL)", name=op.f('ck_users_role_account')),
    sa.CheckConstraint("role IN ('admin', 'support')", name=op.f('ck_users_role')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_users_account_id_accounts'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email'))
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_account_id'), ['account_id'], unique=False)

    op.create_table('audit_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('occurred_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_label', sa.String(length=254), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('environment', sa.String(length=16), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('summary', sa.String(length=500), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_audit_events_account_id_accounts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_audit_events_actor_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_audit_events_account_time', ['account_id', 'occurred_at'], unique=False)
        batch_op.create_index('ix_audit_events_action', ['action'], unique=False)

    op.create_table('enablement_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('requested_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('resolved_at', portal.models.base.UTCDateTime(), nullable=True),
    sa.Column('resolved_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'granted', 'declined')", name=op.f('ck_enablement_requests_status')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_enablement_requests_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_enablement_requests_requested_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['users.id'], name=op.f('fk_enablement_requests_resolved_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enablement_requests'))
    )
    with op.batch_alter_table('enablement_requests', schema=None) as batch_op:
        batch_op.create_index('uq_enablement_requests_one_pending', ['account_id'], unique=True, sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))



def downgrade() -> None:
    with op.batch_alter_table('enablement_requests', schema=None) as batch_op:
        batch_op.drop_index('uq_enablement_requests_one_pending', sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))

    op.drop_table('enablement_requests')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_action')
        batch_op.drop_index('ix_audit_events_account_time')

    op.drop_table('audit_events')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_account_id'))

    op.drop_table('users')
    op.drop_table('sign_in_throttles')
    op.drop_table('accounts')
