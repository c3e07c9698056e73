"""SQLite's full-text index of the stored catalog, `catalog_search` (FTS5, trigram tokens, its content
read from `catalog_entries`): it holds the rows of the shown generations only (see catalog_rows).

A full refresh empties it and indexes the new generation a batch at a time, on a thread, while the
next batch is read, checked and built in Python: the tokenizing runs inside SQLite without holding
the GIL, so on a second core it costs the refresh almost nothing (60,000 modules: 0.4 s of work).
Each statement leaves a segment of its own: a few dozen of them made the next patch merge them
(0.3 s at 60,000 modules), so the batches are large (catalog_rows.BATCH).
A patch takes its changed rows out and puts them back in (`index_rows`).
"""

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select, text

from ..extensions import db
from ..models import CatalogCache, CatalogEntry

FTS_DEFAULTS = {"automerge": 4, "crisismerge": 16, "hashsize": 1024 * 1024}  # SQLite's own (fts5_config.c)
# A full refresh's index is written without merging its segments on the way (60,000 modules: 0.45 s
# instead of 1.2-2.4 s; a search over the unmerged segments costs the same), from an 8 MB buffer of
# pending terms instead of 1 MB (fewer, larger segments: a quarter less time).
FTS_BULK = {"automerge": 0, "crisismerge": 2000, "hashsize": 8 * 1024 * 1024}
INDEX_NEW_ROWS = "INSERT INTO catalog_search(rowid, search) SELECT id, search FROM catalog_entries WHERE id > ?"


def configure(**values: int) -> None:
    for name, value in values.items():
        db.session.execute(text("INSERT INTO catalog_search(catalog_search, rank) VALUES (:name, :value)"),
                           {"name": name, "value": value})


def index_rows(columns: str, where) -> None:
    """Add the rows `where` selects to the index (or take them out, with the 'delete' command's columns)."""
    compiled = where.compile(db.session.get_bind(), compile_kwargs={"literal_binds": True})
    target = "catalog_search(catalog_search, rowid, search)" if "delete" in columns else "catalog_search(rowid, search)"
    db.session.execute(text(f"INSERT INTO {target} SELECT {columns} FROM catalog_entries WHERE {compiled}"))


class BulkIndex:
    """The index of a full refresh of the catalog whose head is `catalog_id`, in the refresh's
    transaction: emptied, given the shown rows of the other stores' catalogs (a store shown before
    this one), then the rows the refresh writes, a batch at a time (`wait` before writing a batch,
    `index_written` after it). The rows of replaced generations leave the index with the rest.
    Use as a context manager: on the way out it waits for the thread (so the connection is free
    for the commit or the rollback), and on success puts back the usual settings."""

    def __init__(self, catalog_id: int):
        self.catalog_id = catalog_id
        self.raw = db.session.connection().connection.driver_connection
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="catalog-search")
        self.pending = None
        self.indexed_to = 0

    def __enter__(self) -> "BulkIndex":
        others = select(CatalogCache.generation_id).where(CatalogCache.id != self.catalog_id,
                                                          CatalogCache.generation_id.is_not(None))
        configure(**FTS_BULK)
        db.session.execute(text("INSERT INTO catalog_search(catalog_search) VALUES ('delete-all')"))
        if db.session.scalar(others.limit(1)) is not None:
            index_rows("id, search", CatalogEntry.generation_id.in_(others))
        # Ids only grow (autoincrement): what the refresh writes is above today's highest.
        self.indexed_to = db.session.scalar(select(CatalogEntry.id).order_by(CatalogEntry.id.desc()).limit(1)) or 0
        return self

    def wait(self) -> None:
        """Until the rows written so far are indexed (re-raising what stopped that)."""
        if self.pending is not None:
            pending, self.pending = self.pending, None
            pending.result()

    def index_written(self) -> None:
        """Index the rows written since the last call, on the thread (the caller waits before its
        next statement on this connection)."""
        self.wait()
        self.pending = self.pool.submit(self._index_new_rows)

    def _index_new_rows(self) -> None:
        self.raw.execute(INDEX_NEW_ROWS, (self.indexed_to,))
        self.indexed_to = self.raw.execute("SELECT max(id) FROM catalog_entries").fetchone()[0] or 0

    def __exit__(self, kind, error, trace) -> None:
        try:
            self.wait()
        except Exception:  # noqa: BLE001 — the first failure is the one to report
            if kind is None:
                raise
        finally:
            self.pool.shutdown()
        if kind is None:
            configure(**FTS_DEFAULTS)
