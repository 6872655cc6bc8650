"""tax rates per rule, tax codes per combination of rules; both environments for every account

Revision ID: 0004
Revises: 0003

- tax_mappings gains the QBO tax rate a Fusebill rule posts to (the old rule → code columns stay as
  history; the sync no longer reads them);
- tax_combinations: a set of Fusebill rules charged together → the QBO tax code for it ("" = the
  non-taxable combination → the company's zero-rate code);
- data: every account gets both environments (sandbox, production) now, so that no page has to create
  one on first sight (GET pages never write).
"""
from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

from portal.models.base import UTCDateTime

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

ENVIRONMENT_KINDS = ('sandbox', 'production')


def upgrade() -> None:
    with op.batch_alter_table('tax_mappings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('qbo_tax_rate_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('qbo_tax_rate_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('qbo_tax_rate_percent', sa.Numeric(precision=9, scale=5), nullable=True))

    op.create_table('tax_combinations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('environment_id', sa.Integer(), nullable=False),
    sa.Column('realm_id', sa.String(length=32), nullable=False),
    sa.Column('rule_keys', sa.String(length=400), nullable=False),
    sa.Column('label', sa.String(length=400), nullable=False),
    sa.Column('qbo_tax_code_id', sa.String(length=32), nullable=True),
    sa.Column('qbo_tax_code_name', sa.String(length=200), nullable=True),
    sa.Column('first_seen_at', UTCDateTime(), nullable=False),
    sa.Column('mapped_at', UTCDateTime(), nullable=True),
    sa.Column('mapped_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['environment_id'], ['environments.id'], name=op.f('fk_tax_combinations_environment_id_environments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['mapped_by_id'], ['users.id'], name=op.f('fk_tax_combinations_mapped_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tax_combinations')),
    sa.UniqueConstraint('environment_id', 'realm_id', 'rule_keys', name='uq_tax_combinations_env_realm_keys')
    )

    _backfill_environments()


def _backfill_environments() -> None:
    """Create the environments an account is missing, with the model's defaults."""
    bind = op.get_bind()
    accounts = sa.table('accounts', sa.column('id', sa.Integer()))
    environments = sa.table(
        'environments',
        sa.column('account_id', sa.Integer()), sa.column('kind', sa.String()),
        sa.column('display_name_parts', sa.JSON()), sa.column('update_display_names', sa.Boolean()),
        sa.column('new_customers', sa.String()), sa.column('schedule', sa.String()),
        sa.column('created_at', UTCDateTime()),
    )
    existing = {(row.account_id, row.kind) for row in bind.execute(sa.select(environments.c.account_id, environments.c.kind))}
    now = datetime.now(timezone.utc)
    missing = [
        {'account_id': account_id, 'kind': kind, 'display_name_parts': ['company_name'], 'update_display_names': True,
         'new_customers': 'create', 'schedule': 'off', 'created_at': now}
        for (account_id,) in bind.execute(sa.select(accounts.c.id).order_by(accounts.c.id))
        for kind in ENVIRONMENT_KINDS
        if (account_id, kind) not in existing
    ]
    if missing:
        bind.execute(environments.insert(), missing)


def downgrade() -> None:
    # The backfilled environments stay: they are valid rows of the 0003 schema too.
    op.drop_table('tax_combinations')
    with op.batch_alter_table('tax_mappings', schema=None) as batch_op:
        batch_op.drop_column('qbo_tax_rate_percent')
        batch_op.drop_column('qbo_tax_rate_name')
        batch_op.drop_column('qbo_tax_rate_id')
