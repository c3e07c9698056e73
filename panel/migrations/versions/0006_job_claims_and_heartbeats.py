"""Jobs: one active job per module enforced by the database (a unique `active_slug`, NULL once a
job ends) and a heartbeat column that says, on any node, whether a job is still alive.

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-23 22:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('active_slug', sa.String(length=48), nullable=True))
        batch_op.add_column(sa.Column('heartbeat_at', sa.DateTime(), nullable=True))
        batch_op.create_unique_constraint('uq_jobs_active_slug', ['active_slug'])
    # Jobs left queued or running by the version before keep active_slug NULL: the start-up check
    # (no heartbeat) marks them failed, and they can never block a new job.


def downgrade():
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_constraint('uq_jobs_active_slug', type_='unique')
        batch_op.drop_column('heartbeat_at')
        batch_op.drop_column('active_slug')
