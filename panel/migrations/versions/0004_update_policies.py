"""Per-module update policy: hold at this version, skip a version, update automatically.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 22:05:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('update_policies',
    sa.Column('slug', sa.String(length=48), nullable=False),
    sa.Column('pinned', sa.Boolean(), nullable=False),
    sa.Column('skipped_version', sa.String(length=64), nullable=True),
    sa.Column('auto_update', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['slug'], ['modules.slug'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('slug')
    )


def downgrade():
    op.drop_table('update_policies')
