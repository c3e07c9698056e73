"""Installed packages kept in the database (bytes and sha256), so every node can materialise them.

Revision ID: 0005
Revises: 0007
Create Date: 2026-11-23 22:15:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('module_packages',
    sa.Column('slug', sa.String(length=64), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('stored_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('slug', 'version')
    )


def downgrade():
    op.drop_table('module_packages')
