"""The stored catalog as rows: written in one transaction, filtered, searched and paged by the database.

A catalog is the set of `catalog_entries` rows of one generation (`catalog_generations`), the one its
head (`catalog_cache.generation_id`) points at; every read here names that generation. A full refresh
writes a new generation beside the shown one and points the head at it in the same transaction, so a
reader sees the old catalog or the new one, never a mix, and the refresh pays no DELETE: the
generations no head points at are deleted after the commit (`drop_unshown`), and one a crash left
behind is deleted after the next refresh. A store's change list patches the shown generation in place.
Writers hand the rows straight to the driver (executemany, COPY) inside the caller's transaction.

On SQLite the full-text table `catalog_search` indexes the rows of the shown generations only: emptied
and filled again with them by a full refresh (in bulk), the changed rows only by a patch. Search
matches each term anywhere in the entry's name, slug, summary, author or category, ignoring case (as
the in-memory search did): on SQLite through that FTS5 trigram index (terms under three characters,
which a trigram cannot hold, fall back to LIKE), elsewhere through LIKE (PostgreSQL indexes it with
pg_trgm when the migration could create the extension).
"""

import json
from functools import lru_cache
from dataclasses import dataclass

import msgspec
from sqlalchemy import and_, delete, func, insert, select, text

from ..extensions import db
from ..models import CatalogCache, CatalogEntry, CatalogGeneration, Module
from ..versions import core_compatible, newer
from . import search_index

# Rows per INSERT batch: the writer builds a batch in Python while the database indexes the previous
# one (search_index), and the memory a refresh needs is a batch, whatever the catalog's size.
BATCH = 10_000
IN_LIST = 2000  # values per `IN (...)`
_core_compatible = lru_cache(maxsize=1024)(core_compatible)  # a catalog repeats a few specifiers thousands of times
LIKE_ESCAPE = "\\"
COMMON_ROWS = 1000
ENTRY = CatalogEntry.__table__


def search_text(entry: dict) -> str:
    return _search_words(entry["name"], entry["slug"], entry["summary"], entry["author"], entry["category"])


def _search_words(name: str, slug: str, summary: str, author: str, category: str) -> str:
    return " ".join((name, slug, summary, author, category)).lower()


COLUMNS = ("generation_id", "slug", "sort_name", "category", "paid", "compatible", "newest", "search", "data")
# Encoded here, not per row by the ORM: msgspec's encoder is seven times json.dumps (60,000 entries:
# 0.08 s instead of 0.55 s); UTF-8 JSON text, read back by the column's JSON type like any other.
_encode = msgspec.json.Encoder().encode


def row_values(generation_id: int, entry) -> tuple:
    """The columns of one validated entry (in COLUMNS' order, `data` as JSON text); `compatible` is
    the newest release this panel can run. `entry`: validate_entry's dict or a FastEntry (the same
    values as attributes, encoded by msgspec in the same order)."""
    if entry.__class__ is dict:
        return _row(generation_id, entry, entry["slug"], entry["name"], entry["category"], entry["paid"],
                    entry["version"], [(r["requires_core"], r["version"]) for r in entry["versions"]],
                    entry["summary"], entry["author"])
    versions = entry.versions
    if len(versions) == 1:  # the common case, without the list of releases (60,000 entries: 0.05 s)
        newest = versions[0].version
        compatible = newest if _core_compatible(versions[0].requires_core) else None
        return (generation_id, entry.slug, entry.name.lower()[:120], entry.category, entry.paid, compatible, newest,
                _search_words(entry.name, entry.slug, entry.summary, entry.author, entry.category),
                _encode(entry).decode())
    return _row(generation_id, entry, entry.slug, entry.name, entry.category, entry.paid, entry.version,
                [(r.requires_core, r.version) for r in versions], entry.summary, entry.author)


def _row(generation_id, entry, slug, name, category, paid, version, releases, summary, author) -> tuple:
    compatible = None
    for requires_core, release in reversed(releases):
        if _core_compatible(requires_core):
            compatible = release
            break
    newest = releases[-1][1] if releases else version
    search = _search_words(name, slug, summary, author, category)
    return (generation_id, slug, name.lower()[:120], category, paid, compatible, newest, search,
            _encode(entry).decode())


def _is_sqlite() -> bool:
    return db.session.get_bind().dialect.name == "sqlite"


# --- writing (inside the caller's transaction) ---------------------------------------------------

def _insert(generation_id: int, entries, index: search_index.BulkIndex | None = None) -> int:
    """Insert entries (an iterable: the whole catalog is never a second list of rows), in batches;
    with `index`, each batch is indexed while the next one is built. PostgreSQL: see _copy."""
    if db.session.get_bind().dialect.driver == "psycopg":  # psycopg 3
        return _copy(generation_id, entries)
    count, batch = 0, []
    for entry in entries:
        batch.append(row_values(generation_id, entry))
        if len(batch) >= BATCH:
            count += _write(batch, index)
            batch = []
    if batch:
        count += _write(batch, index)
    return count


def _write(batch: list[tuple], index: search_index.BulkIndex | None) -> int:
    if index is None:
        return _insert_batch(batch)
    index.wait()
    written = _insert_batch(batch)
    index.index_written()
    return written


def _copy(generation_id: int, entries) -> int:
    """PostgreSQL: one COPY fed a row at a time as the entries are checked, on the session's
    connection: psycopg sends the rows as they come, so the server writes and indexes them (the
    trigram index is most of its work) while Python checks the next ones."""
    count = 0
    raw = db.session.connection().connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(POSTGRES_COPY) as copy:
        for entry in entries:
            copy.write_row(row_values(generation_id, entry))
            count += 1
    return count


def _insert_batch(batch: list[tuple]) -> int:
    """Rows straight to the driver, on the session's connection (so inside its transaction): SQLite's
    executemany; the ORM's per-row parameter handling cost more than the insert."""
    if _is_sqlite():
        db.session.connection().connection.driver_connection.executemany(SQLITE_INSERT, batch)
    else:  # another driver than psycopg 3 (see _copy): the portable, slower way
        db.session.execute(insert(ENTRY), [{**dict(zip(COLUMNS, row)), "data": json.loads(row[-1])} for row in batch])
    return len(batch)


SQLITE_INSERT = f"INSERT INTO catalog_entries ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
POSTGRES_COPY = f"COPY catalog_entries ({', '.join(COLUMNS)}) FROM STDIN"


def replace(catalog_id: int, entries) -> int:
    """Write `entries` (validated) as a new generation of the catalog whose head is `catalog_id`, and
    return its id; the caller points the head at it in the same transaction. Nothing is deleted here:
    the previous generation is left to `drop_unshown`, after the commit."""
    generation_id = db.session.execute(insert(CatalogGeneration).values(catalog_id=catalog_id)
                                       .returning(CatalogGeneration.id)).scalar_one()
    if not _is_sqlite():
        _insert(generation_id, entries)
        return generation_id
    with search_index.BulkIndex(catalog_id) as index:
        _insert(generation_id, entries, index)
    return generation_id


def patch(generation_id: int, changed: list[dict], removed: list[str]) -> None:
    """Apply a store's list of changes to the shown generation: `changed` entries replace theirs,
    `removed` slugs go."""
    slugs = sorted({e["slug"] for e in changed} | set(removed))
    for start in range(0, len(slugs), IN_LIST):
        where = and_(CatalogEntry.generation_id == generation_id, CatalogEntry.slug.in_(slugs[start:start + IN_LIST]))
        if _is_sqlite():
            search_index.index_rows("'delete', id, search", where)
        db.session.execute(delete(CatalogEntry).where(where))
    if not changed:
        return
    before = db.session.scalar(select(func.coalesce(func.max(CatalogEntry.id), 0)))
    _insert(generation_id, changed)
    if _is_sqlite():
        search_index.index_rows("id, search", CatalogEntry.id > before)


def drop_unshown(connection) -> int:
    """Delete every generation no head points at, with its rows (the ones refreshes replaced, and any
    a worker stopped before deleting), on `connection`, in the caller's transaction; how many.

    A generation being written is not seen until its refresh commits, and a replaced one is never
    shown again, so this may run at any time, on any worker, as often as it likes. Its rows are not
    in the full-text index (see search_index)."""
    shown = select(CatalogCache.generation_id).where(CatalogCache.generation_id.is_not(None))
    unshown = connection.scalars(select(CatalogGeneration.id).where(CatalogGeneration.id.not_in(shown))).all()
    for generation_id in unshown:
        connection.execute(delete(CatalogEntry).where(CatalogEntry.generation_id == generation_id))
        connection.execute(delete(CatalogGeneration).where(CatalogGeneration.id == generation_id))
    return len(unshown)


# --- reading --------------------------------------------------------------------------------------

def _like(term: str) -> str:
    escaped = term.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _phrase(terms: list[str]) -> str:
    return " AND ".join('"' + t.replace('"', '""') + '"' for t in terms)


def _common(term: str) -> bool:
    """Whether `term` is in at least COMMON_ROWS entries: a look at the start of its index entry only."""
    probe = text("SELECT count(*) FROM (SELECT rowid FROM catalog_search WHERE catalog_search MATCH :phrase "
                 "LIMIT :cap)")
    return db.session.scalar(probe, {"phrase": _phrase([term]), "cap": COMMON_ROWS}) >= COMMON_ROWS


def search_condition(query: str, narrowed: bool = False):
    """Every term of `query` somewhere in the entry's text, ignoring case; None for no terms.

    On SQLite, terms of three characters or more go through the trigram index, except a term found
    in thousands of entries when a rarer term or a filter (`narrowed`) already leaves few rows: the
    index would list every entry holding it, where checking the few rows left costs almost nothing.
    Either way the answer is the same."""
    terms = query.lower().split()
    if not terms:
        return None
    conditions = []
    long_terms = [t for t in terms if len(t) >= 3] if _is_sqlite() else []
    if len(long_terms) > 1 or (long_terms and narrowed):
        rare = [t for t in long_terms if not _common(t)]
        long_terms = rare if rare or narrowed else long_terms
    if long_terms:
        conditions.append(CatalogEntry.id.in_(
            select(text("rowid")).select_from(text("catalog_search")).where(text("catalog_search MATCH :phrase")
                                                                            .bindparams(phrase=_phrase(long_terms)))))
    conditions += [CatalogEntry.search.like(_like(t), escape=LIKE_ESCAPE) for t in terms if t not in long_terms]
    return and_(*conditions)


def entry_of(row) -> dict:
    data = row.data if isinstance(row.data, dict) else json.loads(row.data)
    return {**data, "compatible": row.compatible}


@dataclass
class Page:
    entries: list[dict]
    total: int
    page: int
    pages: int
    per_page: int


def browse(generation_id: int | None, query: str = "", category: str = "", price: str = "",
           installed_only: bool = False, slugs: list[str] | None = None, page: int = 1,
           per_page: int = 24, total: int | None = None) -> Page:
    """One page of the catalog, filtered and searched in the database, by name; `installed_only`
    keeps the installed modules, `slugs` only those modules (the ones with an update); `total`, when
    the caller knows it (the whole catalog's count), spares counting the rows again."""
    if generation_id is None:
        return Page([], 0, 1, 1, per_page)
    conditions = [CatalogEntry.generation_id == generation_id]
    if category:
        conditions.append(CatalogEntry.category == category)
    if price in ("paid", "free"):
        conditions.append(CatalogEntry.paid.is_(price == "paid"))
    if installed_only:
        conditions.append(CatalogEntry.slug.in_(select(Module.slug)))
    if slugs is not None:
        conditions.append(CatalogEntry.slug.in_(slugs))
    searched = search_condition(query, narrowed=bool(category or installed_only or slugs is not None))
    if searched is not None:
        conditions.append(searched)
    where = and_(*conditions)
    page, rows = max(1, page), None
    if total is None and searched is None:  # the count from an index alone
        total = db.session.scalar(select(func.count()).select_from(ENTRY).where(where)) or 0
    elif total is None:  # the page and the count in one pass: a search is evaluated once, not twice
        rows = _page_rows(where, page, per_page, counted=True)
        if rows:
            total = rows[0].total
        elif page == 1:
            total = 0
        else:  # past the last page: count, then show the last one
            total, rows = db.session.scalar(select(func.count()).select_from(ENTRY).where(where)) or 0, None
    pages = max(1, -(-total // per_page))
    page = min(page, pages)
    if rows is None:
        rows = _page_rows(where, page, per_page)
    return Page([entry_of(r) for r in rows], total, page, pages, per_page)


def _page_rows(where, page: int, per_page: int, counted: bool = False) -> list:
    """One page's rows by name; with `counted`, each carries `total`, how many rows match in all
    (counted over the matching ids only, then the page's entries read)."""
    offset = (page - 1) * per_page
    if not counted:
        return db.session.execute(select(CatalogEntry.data, CatalogEntry.compatible).where(where)
                                  .order_by(CatalogEntry.sort_name, CatalogEntry.slug)
                                  .limit(per_page).offset(offset)).all()
    ids = (select(CatalogEntry.id, CatalogEntry.sort_name, CatalogEntry.slug, func.count().over().label("total"))
           .where(where).order_by(CatalogEntry.sort_name, CatalogEntry.slug).limit(per_page).offset(offset)
           .subquery())
    return db.session.execute(select(CatalogEntry.data, CatalogEntry.compatible, ids.c.total)
                              .join(ids, CatalogEntry.id == ids.c.id).order_by(ids.c.sort_name, ids.c.slug)).all()


def entry(generation_id: int | None, slug: str) -> dict | None:
    if generation_id is None or not isinstance(slug, str):
        return None
    row = db.session.execute(select(CatalogEntry.data, CatalogEntry.compatible)
                             .where(CatalogEntry.generation_id == generation_id, CatalogEntry.slug == slug)).first()
    return entry_of(row) if row else None


def paid_slugs(generation_id: int | None) -> list[str]:
    if generation_id is None:
        return []
    return list(db.session.scalars(select(CatalogEntry.slug).where(CatalogEntry.generation_id == generation_id,
                                                                   CatalogEntry.paid.is_(True))))


def verdicts(generation_id: int | None, slugs) -> dict[str, tuple]:
    """slug -> (compatible version, newest version) for the given modules: what a card needs."""
    slugs = list(slugs)
    if generation_id is None or not slugs:
        return {}
    found = {}
    for start in range(0, len(slugs), IN_LIST):
        found.update((r.slug, (r.compatible, r.newest)) for r in db.session.execute(
            select(CatalogEntry.slug, CatalogEntry.compatible, CatalogEntry.newest)
            .where(CatalogEntry.generation_id == generation_id, CatalogEntry.slug.in_(slugs[start:start + IN_LIST]))))
    return found


def categories(generation_id: int | None) -> list[str]:
    if generation_id is None:
        return []
    names = db.session.scalars(select(CatalogEntry.category).distinct()
                               .where(CatalogEntry.generation_id == generation_id, CatalogEntry.category != ""))
    return sorted(names, key=str.lower)


def count(generation_id: int | None) -> int:
    if generation_id is None:
        return 0
    return db.session.scalar(select(func.count()).select_from(ENTRY).where(ENTRY.c.generation_id == generation_id)) or 0


def updates(generation_id: int | None) -> list[dict]:
    """Installed modules with a newer compatible version, by name: one join, compared in Python
    only where the versions differ."""
    if generation_id is None:
        return []
    rows = db.session.execute(
        select(Module.slug, Module.version, CatalogEntry.compatible, CatalogEntry.data)
        .join(CatalogEntry, and_(CatalogEntry.slug == Module.slug, CatalogEntry.generation_id == generation_id))
        .where(CatalogEntry.compatible.is_not(None), CatalogEntry.compatible != Module.version)).all()
    found = []
    for row in rows:
        if newer(row.compatible, row.version):
            data = row.data if isinstance(row.data, dict) else json.loads(row.data)
            found.append({"slug": row.slug, "name": data["name"], "installed": row.version,
                          "version": row.compatible})
    return sorted(found, key=lambda r: r["name"].lower())
