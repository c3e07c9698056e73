"""The one write path of `catalog_cache` rows (the catalog and each store document, keyed by URL).

Two refreshes of a URL never fetched before (two tabs, two workers, two nodes) both try to insert
its row; the unique URL lets the database pick one, and the other updates the winner's row instead
of failing.
"""

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import CatalogCache


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
