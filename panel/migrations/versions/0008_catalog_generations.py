"""Catalog rows under generations: a refresh writes a new generation beside the shown one and points
the head at it in the same transaction; the previous one is deleted after the commit, not during it.

Revision ID: 0008
Revises: 0005
Create Date: 2026-11-24 08:40:00

As in 0007, the stored catalogs are not converted: their heads are marked never checked, so the next
page fetches the catalog again (the ETag is dropped, or a 304 would leave the new table empty).
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0005'
branch_labels = None
depends_on = None

# Trigram tokens (a term matches anywhere inside a word); `search` and the terms are lower-cased in
# Python, so the tokenizer need not fold case again; no per-row sizes (nothing ranks by bm25).
SQLITE_SEARCH = ("CREATE VIRTUAL TABLE catalog_search USING fts5(search, content='catalog_entries', "
                 "content_rowid='id', tokenize='trigram case_sensitive 1', columnsize=0)")
POSTGRES_SEARCH = ("DO $$ BEGIN CREATE EXTENSION IF NOT EXISTS pg_trgm; "
                   "EXECUTE 'CREATE INDEX ix_catalog_entries_search ON catalog_entries USING gin (search gin_trgm_ops)'; "
                   "EXCEPTION WHEN insufficient_privilege OR undefined_file THEN NULL; END $$")


def _entries_table(owner: str, references: str):
    op.create_table('catalog_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column(owner, sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=48), nullable=False),
    sa.Column('sort_name', sa.String(length=120), nullable=False),
    sa.Column('category', sa.String(length=64), nullable=False),
    sa.Column('paid', sa.Boolean(), nullable=False),
    sa.Column('compatible', sa.String(length=64), nullable=True),
    sa.Column('newest', sa.String(length=64), nullable=False),
    sa.Column('search', sa.Text(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint([owner], [references], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint(owner, 'slug'),
    sqlite_autoincrement=True,  # an id is never reused, so a stale full-text row can never name another entry
    )
    op.create_index('ix_catalog_entries_order', 'catalog_entries', [owner, 'sort_name', 'slug'])
    op.create_index('ix_catalog_entries_category', 'catalog_entries', [owner, 'category', 'sort_name'])


def _drop_entries_table():
    if op.get_bind().dialect.name == 'sqlite':
        op.execute("DROP TABLE IF EXISTS catalog_search")
    op.drop_table('catalog_entries')  # with its indexes


def _search_index(search_sql: str):
    dialect = op.get_bind().dialect.name
    if dialect == 'sqlite':
        op.execute(search_sql)
    elif dialect == 'postgresql':
        op.execute(POSTGRES_SEARCH)


def _never_checked():
    op.execute("UPDATE catalog_cache SET etag = NULL, checked_at = NULL WHERE url LIKE '%/api/modules'")


def upgrade():
    _drop_entries_table()
    op.create_table('catalog_generations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('catalog_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['catalog_id'], ['catalog_cache.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sqlite_autoincrement=True,  # a generation's number is never reused: it keys what workers keep
    )
    op.add_column('catalog_cache', sa.Column('generation_id', sa.Integer(), nullable=True))
    _entries_table('generation_id', 'catalog_generations.id')
    _search_index(SQLITE_SEARCH)
    _never_checked()


def downgrade():
    _drop_entries_table()
    with op.batch_alter_table('catalog_cache') as batch:
        batch.drop_column('generation_id')
    op.drop_table('catalog_generations')
    _entries_table('catalog_id', 'catalog_cache.id')
    _search_index("CREATE VIRTUAL TABLE catalog_search USING fts5(search, content='catalog_entries', "
                  "content_rowid='id', tokenize='trigram')")
    _never_checked()
