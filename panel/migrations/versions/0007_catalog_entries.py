"""The marketplace catalog as rows with indexes and full-text search, instead of one JSON value;
indexes that page /modules by name.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 22:10:00

The stored catalogs are not converted: their heads are marked never checked, so the next page
fetches the catalog again (the ETag is dropped, or a 304 would leave the new table empty).
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('catalog_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('catalog_id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=48), nullable=False),
    sa.Column('sort_name', sa.String(length=120), nullable=False),
    sa.Column('category', sa.String(length=64), nullable=False),
    sa.Column('paid', sa.Boolean(), nullable=False),
    sa.Column('compatible', sa.String(length=64), nullable=True),
    sa.Column('newest', sa.String(length=64), nullable=False),
    sa.Column('search', sa.Text(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['catalog_id'], ['catalog_cache.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('catalog_id', 'slug'),
    sqlite_autoincrement=True,  # an id is never reused, so a stale full-text row can never name another entry
    )
    op.create_index('ix_catalog_entries_order', 'catalog_entries', ['catalog_id', 'sort_name', 'slug'])
    op.create_index('ix_catalog_entries_category', 'catalog_entries', ['catalog_id', 'category', 'sort_name'])
    op.create_index('ix_modules_name_order', 'modules', [sa.text('lower(name)'), 'slug'])
    op.create_index('ix_modules_state_name_order', 'modules', ['state', sa.text('lower(name)'), 'slug'])
    dialect = op.get_bind().dialect.name
    if dialect == 'sqlite':
        # Trigram tokens: a search term matches anywhere inside a word, as the in-memory search did.
        op.execute("CREATE VIRTUAL TABLE catalog_search USING fts5(search, content='catalog_entries', "
                   "content_rowid='id', tokenize='trigram')")
        # Kept in step by marketplace/catalog_rows.py, in bulk: a trigger per row made a refresh of
        # 10,000 modules seven times slower.
    elif dialect == 'postgresql':
        # pg_trgm makes the substring search (LIKE '%term%') use an index; creating the extension
        # needs rights a hosted database may not grant, and the search works without it.
        op.execute("DO $$ BEGIN CREATE EXTENSION IF NOT EXISTS pg_trgm; "
                   "EXECUTE 'CREATE INDEX ix_catalog_entries_search ON catalog_entries USING gin (search gin_trgm_ops)'; "
                   "EXCEPTION WHEN insufficient_privilege OR undefined_file THEN NULL; END $$")
    op.execute("UPDATE catalog_cache SET etag = NULL, checked_at = NULL, data = '[]' WHERE url LIKE '%/api/modules'")


def downgrade():
    op.drop_index('ix_modules_state_name_order', table_name='modules')
    op.drop_index('ix_modules_name_order', table_name='modules')
    if op.get_bind().dialect.name == 'sqlite':
        op.execute("DROP TABLE IF EXISTS catalog_search")
    op.drop_table('catalog_entries')
