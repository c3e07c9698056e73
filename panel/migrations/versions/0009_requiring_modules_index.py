"""An index of the modules that require others, so a disable finds its dependants without
decoding every installed module's manifest.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 09:00:00

Partial: only modules whose manifest names requirements are in it, a handful in a real install.
Its predicate is `services.dependencies.names_requirements`, written the same way, since a
database uses a partial index only for a query that states the index's own condition.
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

PREDICATES = {
    'sqlite': "(json_extract(manifest, '$.requires') IS NOT NULL AND json_extract(manifest, '$.requires') <> '{}')",
    'postgresql': "((manifest ->> 'requires') IS NOT NULL AND (manifest ->> 'requires') <> '{}')",
}


def upgrade():
    predicate = PREDICATES.get(op.get_bind().dialect.name)
    if predicate is not None:
        op.create_index('ix_modules_requiring', 'modules', ['state'], sqlite_where=sa.text(predicate),
                        postgresql_where=sa.text(predicate))


def downgrade():
    if op.get_bind().dialect.name in PREDICATES:
        op.drop_index('ix_modules_requiring', table_name='modules')
