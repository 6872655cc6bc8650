"""tax rules that are ignored or added by hand

Revision ID: 0012
Revises: 0011

tax_mappings gains `ignored_at` / `ignored_by_id`: a Fusebill tax rule set to ignore on the Map taxes
step (a rule that will never be synced, e.g. another country's tax) blocks nothing, and a record that
carries it fails with that reason. Rules added by hand already have `source = 'manual'` (0002).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from portal.models.base import UTCDateTime

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tax_mappings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ignored_at', UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('ignored_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_tax_mappings_ignored_by_id_users'), 'users', ['ignored_by_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('tax_mappings', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_tax_mappings_ignored_by_id_users'), type_='foreignkey')
        batch_op.drop_column('ignored_by_id')
        batch_op.drop_column('ignored_at')
