"""The state a module switch found its module in, on its audit entry, so a worker that kept the counts
above the list at an earlier generation applies the switches since instead of counting again.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24 22:40:00

Only switches (enabled, disabled, enable_failed) carry it; every other audit entry holds NULL.
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_events') as batch:
        batch.add_column(sa.Column('from_state', sa.String(16), nullable=True))


def downgrade():
    with op.batch_alter_table('audit_events') as batch:
        batch.drop_column('from_state')
