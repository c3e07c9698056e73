"""This installation's license: installation id, key, signed token, last check and last error.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 22:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('license_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('installation_id', sa.String(length=64), nullable=False),
    sa.Column('license_key', sa.String(length=40), nullable=True),
    sa.Column('token', sa.Text(), nullable=True),
    sa.Column('checked_at', sa.DateTime(), nullable=True),
    sa.Column('attempted_at', sa.DateTime(), nullable=True),
    sa.Column('last_error', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )


def downgrade():
    op.drop_table('license_state')
