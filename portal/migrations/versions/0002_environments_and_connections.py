"""environments, QBO connections, ledgers, items, tax mappings, links, sync runs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 21:51:33.355398
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import portal.models.base

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('environments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('fusebill_api_key_ciphertext', sa.Text(), nullable=True),
    sa.Column('fusebill_api_key_hint', sa.String(length=16), nullable=True),
    sa.Column('fusebill_key_verified_at', portal.models.base.UTCDateTime(), nullable=True),
    sa.Column('display_name_parts', sa.JSON(), nullable=False),
    sa.Column('update_display_names', sa.Boolean(), server_default=sa.text('(true)'), nullable=False),
    sa.Column('new_customers', sa.String(length=16), server_default='create', nullable=False),
    sa.Column('sync_start_date', sa.Date(), nullable=True),
    sa.Column('schedule', sa.String(length=16), server_default='off', nullable=False),
    sa.Column('notification_email', sa.String(length=254), nullable=True),
    sa.Column('settings_saved_at', portal.models.base.UTCDateTime(), nullable=True),
    sa.Column('created_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('sandbox', 'production')", name=op.f('ck_environments_kind')),
    sa.CheckConstraint("new_customers IN ('create', 'dont_create')", name=op.f('ck_environments_new_customers')),
    sa.CheckConstraint("schedule IN ('off', 'hourly', 'daily')", name=op.f('ck_environments_schedule')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_environments_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_environments')),
    sa.UniqueConstraint('account_id', 'kind', name='uq_environments_account_kind')
    )
    op.create_table('ledger_choices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('environment_id', sa.Integer(), nullable=False),
    sa.Column('realm_id', sa.String(length=32), nullable=False),
    sa.Column('ledger', sa.String(length=32), nullable=False),
    sa.Column('qbo_account_id', sa.String(length=32), nullable=False),
    sa.Column('qbo_account_name', sa.String(length=255), nullable=False),
    sa.Column('qbo_account_type', sa.String(length=64), nullable=False),
    sa.Column('qbo_account_subtype', sa.String(length=64), nullable=False),
    sa.Column('chosen_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.Column('chosen_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['chosen_by_id'], ['users.id'], name=op.f('fk_ledger_choices_chosen_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['environment_id'], ['environments.id'], name=op.f('fk_ledger_choices_environment_id_environments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_choices')),
    sa.UniqueConstraint('environment_id', 'realm_id', 'ledger', name='uq_ledger_choices_env_realm_ledger')
    )
    op.create_table('managed_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('environment_id', sa.Integer(), nullable=False),
    sa.Column('realm_id', sa.String(length=32), nullable=False),
    sa.Column('item_key', sa.String(length=32), nullable=False),
    sa.Column('qbo_item_id', sa.String(length=32), nullable=False),
    sa.Column('qbo_item_name', sa.String(length=100), nullable=False),
    sa.Column('income_account_id', sa.String(length=32), nullable=False),
    sa.Column('sync_token', sa.String(length=16), nullable=False),
    sa.Column('updated_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['environment_id'], ['environments.id'], name=op.f('fk_managed_items_environment_id_environments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_managed_items')),
    sa.UniqueConstraint('environment_id', 'realm_id', 'item_key', name='uq_managed_items_env_realm_item')
    )
    op.create_table('qbo_connections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('environment_id', sa.Integer(), nullable=False),
    sa.Column('realm_id', sa.String(length=32), nullable=False),
    sa.Column('company_name', sa.String(length=255), nullable=False),
    sa.Column('country', sa.String(length=8), nullable=False),
    sa.Column('home_currency', sa.String(length=3), nullable=False),
    sa.Column('multicurrency', sa.Boolean(), server_default=sa.text('(false)'), nullable=False),
    sa.Column('tax_setup', sa.String(length=16), server_default='none', nullable=False),
    sa.Column('auto_apply_credit', sa.Boolean(), server_default=sa.text('(false)'), nullable=False),
    sa.Column('company_checked_at', portal.models.base.UTCDateTime(), nullable=True),
    sa.Column('company_check_error', sa.String(length=500), nullable=True),
    sa.Column('access_token_ciphertext', sa.Text(), nullable=True),
    sa.Column('access_token_expires_at', portal.models.base.UTCDateTime(), nullable=True),
    sa.Column('refresh_token_ciphertext', sa.Text(), nullable=True),
    sa.Column('refresh_token_expires_at', portal.models.base.UTCDateTime(), nullable=True),
    sa.Column('token_version', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_refreshed_at', portal.models.base.UTCDateTime(), nullable=True),
    sa.Column('last_refresh_error', sa.String(length=500), nullable=True),
    sa.Column('last_refresh_failed_at', portal.models.base.UTCDateTime(), nullable=True),
    sa.Column('needs_reconnect', sa.Boolean(), server_default=sa.text('(false)'), nullable=False),
    sa.Column('expiry_warning_at', portal.models.base.UTCDateTime(), nullable=True),
    sa.Column('previous_connection_id', sa.Integer(), nullable=True),
    sa.Column('relink_existing', sa.Boolean(), server_default=sa.text('(false)'), nullable=False),
    sa.Column('connected_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.Column('connected_by_id', sa.Integer(), nullable=True),
    sa.Column('disconnected_at', portal.models.base.UTCDateTime(), nullable=True),
    sa.Column('disconnected_by_id', sa.Integer(), nullable=True),
    sa.Column('revoke_error', sa.String(length=500), nullable=True),
    sa.CheckConstraint("tax_setup IN ('none', 'us_automated', 'us_manual', 'codes')", name=op.f('ck_qbo_connections_tax_setup')),
    sa.ForeignKeyConstraint(['connected_by_id'], ['users.id'], name=op.f('fk_qbo_connections_connected_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['disconnected_by_id'], ['users.id'], name=op.f('fk_qbo_connections_disconnected_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['environment_id'], ['environments.id'], name=op.f('fk_qbo_connections_environment_id_environments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['previous_connection_id'], ['qbo_connections.id'], name=op.f('fk_qbo_connections_previous_connection_id_qbo_connections'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_qbo_connections'))
    )
    with op.batch_alter_table('qbo_connections', schema=None) as batch_op:
        batch_op.create_index('ix_qbo_connections_environment_realm', ['environment_id', 'realm_id'], unique=False)
        batch_op.create_index('uq_qbo_connections_one_live', ['environment_id'], unique=True, sqlite_where=sa.text('disconnected_at IS NULL'), postgresql_where=sa.text('disconnected_at IS NULL'))

    op.create_table('sync_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('environment_id', sa.Integer(), nullable=False),
    sa.Column('realm_id', sa.String(length=32), nullable=False),
    sa.Column('entity_type', sa.String(length=32), nullable=False),
    sa.Column('fusebill_id', sa.String(length=96), nullable=False),
    sa.Column('qbo_type', sa.String(length=32), nullable=False),
    sa.Column('qbo_id', sa.String(length=32), nullable=False),
    sa.Column('qbo_sync_token', sa.String(length=16), nullable=False),
    sa.Column('payload_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.Column('updated_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['environment_id'], ['environments.id'], name=op.f('fk_sync_links_environment_id_environments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_links')),
    sa.UniqueConstraint('environment_id', 'entity_type', 'fusebill_id', name='uq_sync_links_env_type_fusebill')
    )
    with op.batch_alter_table('sync_links', schema=None) as batch_op:
        batch_op.create_index('ix_sync_links_qbo', ['environment_id', 'qbo_type', 'qbo_id'], unique=False)

    op.create_table('sync_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('environment_id', sa.Integer(), nullable=False),
    sa.Column('realm_id', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('trigger', sa.String(length=16), nullable=False),
    sa.Column('started_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.Column('finished_at', portal.models.base.UTCDateTime(), nullable=True),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.CheckConstraint("status IN ('queued', 'running', 'succeeded', 'failed', 'partial')", name=op.f('ck_sync_runs_status')),
    sa.ForeignKeyConstraint(['environment_id'], ['environments.id'], name=op.f('fk_sync_runs_environment_id_environments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_runs'))
    )
    with op.batch_alter_table('sync_runs', schema=None) as batch_op:
        batch_op.create_index('ix_sync_runs_environment_started', ['environment_id', 'started_at'], unique=False)

    op.create_table('tax_mappings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('environment_id', sa.Integer(), nullable=False),
    sa.Column('realm_id', sa.String(length=32), nullable=False),
    sa.Column('fusebill_tax_key', sa.String(length=64), nullable=False),
    sa.Column('fusebill_tax_name', sa.String(length=200), nullable=False),
    sa.Column('fusebill_tax_rate', sa.Numeric(precision=9, scale=5), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('qbo_tax_code_id', sa.String(length=32), nullable=True),
    sa.Column('qbo_tax_code_name', sa.String(length=200), nullable=True),
    sa.Column('first_seen_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.Column('mapped_at', portal.models.base.UTCDateTime(), nullable=True),
    sa.Column('mapped_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['environment_id'], ['environments.id'], name=op.f('fk_tax_mappings_environment_id_environments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['mapped_by_id'], ['users.id'], name=op.f('fk_tax_mappings_mapped_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tax_mappings')),
    sa.UniqueConstraint('environment_id', 'realm_id', 'fusebill_tax_key', name='uq_tax_mappings_env_realm_key')
    )


def downgrade() -> None:
    op.drop_table('tax_mappings')
    with op.batch_alter_table('sync_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_sync_runs_environment_started')

    op.drop_table('sync_runs')
    with op.batch_alter_table('sync_links', schema=None) as batch_op:
        batch_op.drop_index('ix_sync_links_qbo')

    op.drop_table('sync_links')
    with op.batch_alter_table('qbo_connections', schema=None) as batch_op:
        batch_op.drop_index('uq_qbo_connections_one_live', sqlite_where=sa.text('disconnected_at IS NULL'), postgresql_where=sa.text('disconnected_at IS NULL'))
        batch_op.drop_index('ix_qbo_connections_environment_realm')

    op.drop_table('qbo_connections')
    op.drop_table('managed_items')
    op.drop_table('ledger_choices')
    op.drop_table('environments')
