"""The generation a module switch moved the counter to, on its audit entry, so a worker that kept the
sidebar at an earlier generation applies the switches since instead of reading every entry again.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24 20:45:00

Only switches (enabled, disabled, enable_failed) carry it; every other audit entry holds NULL.
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_events') as batch:
        batch.add_column(sa.Column('generation', sa.Integer(), nullable=True))
    op.create_index('ix_audit_events_generation', 'audit_events', ['generation'])


def downgrade():
    op.drop_index('ix_audit_events_generation', table_name='audit_events')
    with op.batch_alter_table('audit_events') as batch:
        batch.drop_column('generation')
