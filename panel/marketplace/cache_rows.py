"""The one write path of `catalog_cache` rows (the catalog and each store document, keyed by URL),
and the read of the catalog's head.

Two refreshes of a URL never fetched before (two tabs, two workers, two nodes) both try to insert
its row; the unique URL lets the database pick one, and the other updates the winner's row instead
of failing.
"""

import functools
from urllib.parse import urljoin

from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import CatalogCache
from ..runtime import state as counted

CATALOG_PATH = "api/modules"


@functools.lru_cache(maxsize=64)
def catalog_url_at(store: str) -> str:
    """The catalog's URL at a store's address; kept, as `urljoin` costs every request tens of µs."""
    return urljoin(store, CATALOG_PATH)

# Built once: every page that shows a card reads the catalog's head, and building a statement
# costs more than running it. The `catalog` counter moves with every write of a `catalog_cache`
# row (runtime/state.py), so a worker keeps the head it read until any worker writes one.
_HEAD = (
    select(CatalogCache.id, CatalogCache.url, CatalogCache.etag, CatalogCache.skipped, CatalogCache.fetched_at,
           CatalogCache.checked_at, CatalogCache.last_error, CatalogCache.last_error_at, CatalogCache.generation_id,
           *counted.stamp_columns("catalog"))
    .where(or_(CatalogCache.url == bindparam("url"),
               and_(CatalogCache.url.like(f"%/{CATALOG_PATH}"), CatalogCache.fetched_at.is_not(None))))
    .order_by((CatalogCache.url == bindparam("url")).desc(), CatalogCache.fetched_at.desc().nulls_last()).limit(2)
)


def head_rows(url: str) -> tuple:
    """(current, shown): the current store's row, and the row whose catalog is shown — the current
    store's, or while it has none the last good catalog of any store. One query, without the data,
    run again only after a `catalog_cache` row was written."""
    return counted.cache("catalog_head", ("catalog",)).get_or_compute(url, lambda: _read_head(url))


def _read_head(url: str) -> counted.Stamped:
    rows = db.session.connection().execute(_HEAD, {"url": url}).all()
    current = rows[0] if rows and rows[0].url == url else None
    if current is not None and current.fetched_at is not None:
        return counted.Stamped((current, current), rows[0])
    shown = next((row for row in rows if row.fetched_at is not None), None)
    return counted.Stamped((current, shown), rows[0] if rows else None)


def row_id(url: str) -> int | None:
    return db.session.scalar(select(CatalogCache.id).where(CatalogCache.url == url[:500]))


def save(url: str, **values) -> None:
    """Insert or update the row of `url` with `values`, and commit."""
    found = row_id(url)
    if found is None:
        db.session.add(CatalogCache(url=url[:500], **values))
        try:
            db.session.commit()
            return
        except IntegrityError:  # another writer inserted it first: update theirs
            db.session.rollback()
            found = row_id(url)
    # An UPDATE statement: the old catalog is never loaded just to be replaced.
    db.session.execute(update(CatalogCache).where(CatalogCache.id == found).values(**values))
    db.session.commit()
