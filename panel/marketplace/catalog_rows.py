"""The stored catalog as rows: written in one transaction, filtered, searched and paged by the database.

A catalog is the set of `catalog_entries` rows of one `catalog_cache` row (its head); on SQLite,
the writers here keep the full-text table `catalog_search` in step, in bulk (rebuilt after a full
replace; the changed rows only after a patch). Writers hand the rows straight to the driver
(executemany, COPY) and replace or patch them inside the caller's transaction, so a reader sees the
old catalog or the new one, never a mix. Search matches each term anywhere in the entry's name, slug, summary,
author or category, ignoring case (as the in-memory search did): on SQLite through an FTS5 trigram
index (terms under three characters, which a trigram cannot hold, fall back to LIKE), elsewhere
through LIKE (PostgreSQL indexes it with pg_trgm when the migration could create the extension).
"""

import json
from functools import lru_cache
from dataclasses import dataclass

import msgspec
from sqlalchemy import and_, delete, func, insert, select, text

from ..extensions import db
from ..models import CatalogEntry, Module
from ..versions import core_compatible, newer

BATCH = 2000
_core_compatible = lru_cache(maxsize=1024)(core_compatible)  # a catalog repeats a few specifiers thousands of times
LIKE_ESCAPE = "\\"
FTS_DEFAULTS = {"automerge": 4, "crisismerge": 16}  # SQLite's own (fts5 documentation)
FTS_NO_CRISIS = 2000
COMMON_ROWS = 1000
ENTRY = CatalogEntry.__table__


def search_text(entry: dict) -> str:
    return _search_words(entry["name"], entry["slug"], entry["summary"], entry["author"], entry["category"])


def _search_words(name: str, slug: str, summary: str, author: str, category: str) -> str:
    return " ".join((name, slug, summary, author, category)).lower()


COLUMNS = ("catalog_id", "slug", "sort_name", "category", "paid", "compatible", "newest", "search", "data")
# Encoded here, not per row by the ORM: msgspec's encoder is seven times json.dumps (60,000 entries:
# 0.08 s instead of 0.55 s); UTF-8 JSON text, read back by the column's JSON type like any other.
_encode = msgspec.json.Encoder().encode


def row_values(catalog_id: int, entry) -> tuple:
    """The columns of one validated entry (in COLUMNS' order, `data` as JSON text); `compatible` is
    the newest release this panel can run. `entry`: validate_entry's dict or a FastEntry (the same
    values as attributes, encoded by msgspec in the same order)."""
    if entry.__class__ is dict:
        return _row(catalog_id, entry, entry["slug"], entry["name"], entry["category"], entry["paid"],
                    entry["version"], [(r["requires_core"], r["version"]) for r in entry["versions"]],
                    entry["summary"], entry["author"])
    return _row(catalog_id, entry, entry.slug, entry.name, entry.category, entry.paid, entry.version,
                [(r.requires_core, r.version) for r in entry.versions], entry.summary, entry.author)


def _row(catalog_id, entry, slug, name, category, paid, version, releases, summary, author) -> tuple:
    compatible = None
    for requires_core, release in reversed(releases):
        if _core_compatible(requires_core):
            compatible = release
            break
    newest = releases[-1][1] if releases else version
    search = _search_words(name, slug, summary, author, category)
    return (catalog_id, slug, name.lower()[:120], category, paid, compatible, newest, search, _encode(entry).decode())


def _is_sqlite() -> bool:
    return db.session.get_bind().dialect.name == "sqlite"


# --- writing (inside the caller's transaction) ---------------------------------------------------

def _insert(catalog_id: int, entries) -> int:
    """Insert entries in batches (an iterable: the whole catalog is never a second list of rows)."""
    count, batch = 0, []
    for entry in entries:
        batch.append(row_values(catalog_id, entry))
        if len(batch) >= BATCH:
            count += _insert_batch(batch)
            batch = []
    if batch:
        count += _insert_batch(batch)
    return count


def _insert_batch(batch: list[tuple]) -> int:
    """Rows straight to the driver, on the session's connection (so inside its transaction): SQLite's
    executemany, PostgreSQL's COPY; the ORM's per-row parameter handling cost more than the insert."""
    raw = db.session.connection().connection.driver_connection
    if _is_sqlite():
        raw.executemany(SQLITE_INSERT, batch)
    elif type(raw).__module__.startswith("psycopg."):  # psycopg 3
        with raw.cursor() as cursor, cursor.copy(POSTGRES_COPY) as copy:
            for row in batch:
                copy.write_row(row)
    else:  # another driver: the portable, slower way
        db.session.execute(insert(ENTRY), [{**dict(zip(COLUMNS, row)), "data": json.loads(row[-1])} for row in batch])
    return len(batch)


SQLITE_INSERT = f"INSERT INTO catalog_entries ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
POSTGRES_COPY = f"COPY catalog_entries ({', '.join(COLUMNS)}) FROM STDIN"


def replace(catalog_id: int, entries) -> int:
    """The catalog becomes `entries` (validated dicts); not committed here."""
    others = db.session.scalar(select(CatalogEntry.id).where(CatalogEntry.catalog_id != catalog_id).limit(1))
    if others is None and _is_sqlite():
        # No other store's catalog: a DELETE without WHERE, which SQLite empties at once instead of
        # row by row (ids are never reused: autoincrement). PostgreSQL's TRUNCATE would lock readers out.
        db.session.execute(delete(CatalogEntry))
    else:
        db.session.execute(delete(CatalogEntry).where(CatalogEntry.catalog_id == catalog_id))
    count = _insert(catalog_id, entries)
    if _is_sqlite():
        _rebuild_search()
    return count


def _rebuild_search() -> None:
    """The full-text index in one pass over the table (far cheaper than row by row), without merging
    its segments on the way (60,000 modules: 0.45 s instead of 1.2-2.4 s); a search over the unmerged
    segments costs the same. The usual merge settings come back for the patches that follow."""
    _search_config(automerge=0, crisismerge=FTS_NO_CRISIS)
    db.session.execute(text("INSERT INTO catalog_search(catalog_search) VALUES ('rebuild')"))
    _search_config(**FTS_DEFAULTS)


def _search_config(**values: int) -> None:
    for name, value in values.items():
        db.session.execute(text("INSERT INTO catalog_search(catalog_search, rank) VALUES (:name, :value)"),
                           {"name": name, "value": value})


def patch(catalog_id: int, changed: list[dict], removed: list[str]) -> None:
    """Apply a store's list of changes: `changed` entries replace theirs, `removed` slugs go."""
    slugs = sorted({e["slug"] for e in changed} | set(removed))
    for start in range(0, len(slugs), BATCH):
        where = and_(CatalogEntry.catalog_id == catalog_id, CatalogEntry.slug.in_(slugs[start:start + BATCH]))
        if _is_sqlite():
            _search_rows("'delete', id, search", where)
        db.session.execute(delete(CatalogEntry).where(where))
    if not changed:
        return
    before = db.session.scalar(select(func.coalesce(func.max(CatalogEntry.id), 0)))
    _insert(catalog_id, changed)
    if _is_sqlite():
        _search_rows("id, search", CatalogEntry.id > before)


def _search_rows(columns: str, where) -> None:
    """Add rows to the full-text index (or take them out, with the 'delete' command's columns)."""
    compiled = select(CatalogEntry.id).where(where).compile(db.session.get_bind(),
                                                            compile_kwargs={"literal_binds": True})
    target = "catalog_search(catalog_search, rowid, search)" if "delete" in columns else "catalog_search(rowid, search)"
    db.session.execute(text(f"INSERT INTO {target} SELECT {columns} FROM catalog_entries WHERE id IN ({compiled})"))


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


def browse(catalog_id: int | None, query: str = "", category: str = "", price: str = "",
           installed_only: bool = False, slugs: list[str] | None = None, page: int = 1,
           per_page: int = 24, total: int | None = None) -> Page:
    """One page of the catalog, filtered and searched in the database, by name; `installed_only`
    keeps the installed modules, `slugs` only those modules (the ones with an update); `total`, when
    the caller knows it (the whole catalog's count), spares counting the rows again."""
    if catalog_id is None:
        return Page([], 0, 1, 1, per_page)
    conditions = [CatalogEntry.catalog_id == catalog_id]
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


def entry(catalog_id: int | None, slug: str) -> dict | None:
    if catalog_id is None or not isinstance(slug, str):
        return None
    row = db.session.execute(select(CatalogEntry.data, CatalogEntry.compatible)
                             .where(CatalogEntry.catalog_id == catalog_id, CatalogEntry.slug == slug)).first()
    return entry_of(row) if row else None


def paid_slugs(catalog_id: int | None) -> list[str]:
    if catalog_id is None:
        return []
    return list(db.session.scalars(select(CatalogEntry.slug).where(CatalogEntry.catalog_id == catalog_id,
                                                                   CatalogEntry.paid.is_(True))))


def verdicts(catalog_id: int | None, slugs) -> dict[str, tuple]:
    """slug -> (compatible version, newest version) for the given modules: what a card needs."""
    slugs = list(slugs)
    if catalog_id is None or not slugs:
        return {}
    found = {}
    for start in range(0, len(slugs), BATCH):
        found.update((r.slug, (r.compatible, r.newest)) for r in db.session.execute(
            select(CatalogEntry.slug, CatalogEntry.compatible, CatalogEntry.newest)
            .where(CatalogEntry.catalog_id == catalog_id, CatalogEntry.slug.in_(slugs[start:start + BATCH]))))
    return found


def categories(catalog_id: int | None) -> list[str]:
    if catalog_id is None:
        return []
    names = db.session.scalars(select(CatalogEntry.category).distinct()
                               .where(CatalogEntry.catalog_id == catalog_id, CatalogEntry.category != ""))
    return sorted(names, key=str.lower)


def count(catalog_id: int | None) -> int:
    if catalog_id is None:
        return 0
    return db.session.scalar(select(func.count()).select_from(ENTRY).where(ENTRY.c.catalog_id == catalog_id)) or 0


def updates(catalog_id: int | None) -> list[dict]:
    """Installed modules with a newer compatible version, by name: one join, compared in Python
    only where the versions differ."""
    if catalog_id is None:
        return []
    rows = db.session.execute(
        select(Module.slug, Module.version, CatalogEntry.compatible, CatalogEntry.data)
        .join(CatalogEntry, and_(CatalogEntry.slug == Module.slug, CatalogEntry.catalog_id == catalog_id))
        .where(CatalogEntry.compatible.is_not(None), CatalogEntry.compatible != Module.version)).all()
    found = []
    for row in rows:
        if newer(row.compatible, row.version):
            data = row.data if isinstance(row.data, dict) else json.loads(row.data)
            found.append({"slug": row.slug, "name": data["name"], "installed": row.version,
                          "version": row.compatible})
    return sorted(found, key=lambda r: r["name"].lower())
