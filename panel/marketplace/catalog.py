"""The cached catalog: validated on fetch (see entries), stored as rows (see catalog_rows) under a
head in `catalog_cache`, refreshed in the background.

Pages never wait on the network: they read the stored rows a page at a time; no worker keeps a
copy of the catalog. When it is older than CATALOG_TTL_SECONDS a daemon thread (with its own app
context) fetches a new one, or only what changed since the stored version when the store can.
"""

import logging
import threading
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from flask import current_app, g
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from ..extensions import db
from ..models import CatalogCache, Module, utcnow
from ..runtime import state as counted
from ..versions import newer
from . import bulk_writes, cache_rows, catalog_rows
from .client import StoreClient, StoreError
from .entries import (Validated, as_dict, catalog_entries, decode_catalog, validate_catalog,  # noqa: F401 — validate_* re-exported
                      validate_entry)

log = logging.getLogger(__name__)

CATALOG_PATH = cache_rows.CATALOG_PATH


# --- what pages read ----------------------------------------------------------------------------

@dataclass
class Catalog:
    """The head of the shown catalog; its entries are the rows of its generation (see catalog_rows),
    read a page at a time."""

    id: int | None = None
    generation_id: int | None = None
    fetched_at: datetime | None = None
    source_url: str = ""
    skipped: int = 0

    @property
    def count(self) -> int:
        return self._facts()[0]

    @property
    def categories(self) -> list[str]:
        return self._facts()[1]

    def _facts(self) -> tuple[int, list[str]]:
        """How many modules, and their categories: each a pass over every row, so worked out once per
        stored catalog version and process (a few hundred bytes, not the catalog)."""
        if self.generation_id is None:
            return 0, []
        key = (current_app.config["SQLALCHEMY_DATABASE_URI"], self.generation_id, self.fetched_at)
        facts = _facts.get(key)
        if facts is None:
            facts = (catalog_rows.count(self.generation_id), catalog_rows.categories(self.generation_id))
            if len(_facts) >= 8:
                _facts.clear()
            _facts[key] = facts
        return facts


_facts: dict[tuple, tuple[int, list[str]]] = {}


@dataclass
class CatalogState:
    catalog: Catalog
    store_url: str
    checked_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    refreshing: bool = False

    @property
    def unreachable(self) -> bool:
        return bool(self.last_error)

    @property
    def fetched_at(self) -> datetime | None:
        return self.catalog.fetched_at


_inflight: set[str] = set()
_inflight_lock = threading.Lock()
_threads: list[threading.Thread] = []


def store_url() -> str:
    return current_app.config["MARKETPLACE_URL"].rstrip("/") + "/"


def catalog_url(base: str | None = None) -> str:
    return cache_rows.catalog_url_at(base or store_url())


def _catalog_for(row) -> Catalog:
    if row is None:
        return Catalog()
    return Catalog(id=row.id, generation_id=row.generation_id, fetched_at=row.fetched_at, source_url=row.url,
                   skipped=row.skipped or 0)


def state() -> CatalogState:
    url = catalog_url()
    current, shown = cache_rows.head_rows(url)
    with _inflight_lock:
        refreshing = url in _inflight
    return CatalogState(catalog=_catalog_for(shown), store_url=store_url(),
                        checked_at=current.checked_at if current else None,
                        last_error=current.last_error if current else None,
                        last_error_at=current.last_error_at if current else None, refreshing=refreshing)


def current_catalog() -> Catalog:
    """The shown catalog, looked up once per request: a page of many cards asks for it per card."""
    cached = g.get("_panel_catalog")
    store = current_app.config.get("MARKETPLACE_URL")
    if cached is None or cached[0] != store:
        cached = (store, _catalog_for(cache_rows.head_rows(catalog_url())[1]))
        g._panel_catalog = cached
    return cached[1]


def _forget_request_catalog() -> None:
    g.pop("_panel_catalog", None)


def entry(slug: str) -> dict | None:
    """One entry of the shown catalog, with `compatible`, the newest version this panel can run."""
    return catalog_rows.entry(current_catalog().generation_id, slug)


# --- fetching -----------------------------------------------------------------------------------

@dataclass
class RefreshResult:
    status: str  # updated | unchanged | failed
    message: str = ""
    skipped: int = 0
    count: int = 0


def _record_failure(url: str, message: str) -> None:
    """Note the failed check; the stored catalog itself is never touched."""
    db.session.rollback()
    now = utcnow()
    if cache_rows.row_id(url) is None:
        cache_rows.save(url, data=[], checked_at=now, last_error=message, last_error_at=now)
    else:  # never touches the stored catalog
        cache_rows.save(url, checked_at=now, last_error=message, last_error_at=now)


# Called after each successful refresh (auto-update registers itself here: it needs this module).
AFTER_REFRESH: list = []


def refresh() -> RefreshResult:
    """A conditional fetch of the catalog; a 304 only notes the check and never rewrites the catalog."""
    try:
        with bulk_writes.collector_paused():
            result = _fetch()
    finally:
        _forget_request_catalog()
    if result.status != "failed":
        for hook in AFTER_REFRESH:
            try:
                hook()
            except Exception:  # noqa: BLE001 — a refresh must succeed even when a follow-up fails
                log.exception("after-refresh hook failed")
                db.session.rollback()
    return result


def _version_of(etag: str) -> str:
    """The catalog version an ETag names: without the weak marker and the quotes."""
    return etag.removeprefix("W/").strip('"')


def _since_path(etag: str | None) -> str:
    """The catalog's address; with the stored version, asking only for what changed since (a store
    that does not know `since` sends the whole catalog, which replaces the stored one)."""
    if not etag:
        return CATALOG_PATH
    return f"{CATALOG_PATH}?{urlencode({'since': _version_of(etag)})}"


def _is_change_list(document, etag: str | None) -> bool:
    return (bool(etag) and isinstance(document, dict) and isinstance(document.get("removed"), list)
            and document.get("since") == _version_of(etag))


def _fetch() -> RefreshResult:
    url = catalog_url()
    found = db.session.execute(select(CatalogCache.id, CatalogCache.etag, CatalogCache.fetched_at,
                                      CatalogCache.skipped).where(CatalogCache.url == url[:500])).first()
    row_id, etag = (found.id, found.etag if found.fetched_at else None) if found else (None, None)
    try:
        client = StoreClient.from_config(current_app.config)
    except StoreError as exc:
        _record_failure(url, str(exc))
        return RefreshResult("failed", str(exc))
    try:
        result = client.get_json(_since_path(etag), etag=etag, decode=decode_catalog)
        if result.not_modified:
            db.session.execute(update(CatalogCache).where(CatalogCache.id == row_id)
                               .values(checked_at=utcnow(), last_error=None, last_error_at=None))
            db.session.commit()
            return RefreshResult("unchanged", skipped=found.skipped or 0)
        validated = Validated(catalog_entries(result.data))
    except StoreError as exc:
        _record_failure(url, str(exc))
        return RefreshResult("failed", str(exc))
    finally:
        client.close()
    removed = [s for s in result.data["removed"] if isinstance(s, str)] if _is_change_list(result.data, etag) else None
    try:
        count, skipped = save_catalog(validated, etag=result.etag, url=url, row_id=row_id, removed=removed)
    except Exception:  # noqa: BLE001 — whatever stopped the write, the previous catalog stays whole
        log.exception("storing the marketplace catalog failed")
        message = str(_l("The catalog could not be stored; the previous one is still shown."))
        _record_failure(url, message)
        return RefreshResult("failed", message)
    log.info("marketplace catalog stored: %d modules, %d skipped", count, skipped)
    return RefreshResult("updated", skipped=skipped, count=count)


def save_catalog(entries, etag: str | None = None, url: str | None = None, row_id: int | None = None,
                 removed: list[str] | None = None) -> tuple[int, int]:
    """Store validated `entries` as the catalog of `url` (the current store's by default), with its
    head, in one transaction: readers see the old catalog until the commit, and a write stopped
    half-way (an error, a killed worker) leaves it untouched. The entries become a new generation
    (see catalog_rows); after the commit a thread deletes the ones no head shows (bulk_writes).
    With `removed` (a list of slugs), `entries` are a store's changes and patch the stored catalog
    instead of replacing it. Returns (modules stored, entries skipped)."""
    url = (url or catalog_url())[:500]
    now = utcnow()
    values = {"data": [], "etag": (etag or "")[:200] or None, "fetched_at": now, "checked_at": now,
              "last_error": None, "last_error_at": None}
    if row_id is None:
        row_id = cache_rows.row_id(url)
    if row_id is None:  # first fetch of this store: the head row, made once whatever the race (cache_rows)
        cache_rows.save(url, data=[], skipped=0)
        row_id = cache_rows.row_id(url)
    # Two refreshes writing one store's rows take turns on its head row (PostgreSQL; SQLite has one
    # writer at a time anyway): the second replaces what the first committed instead of colliding.
    shown = db.session.scalar(select(CatalogCache.generation_id).where(CatalogCache.id == row_id).with_for_update())
    if shown is None:  # nothing stored to patch (cannot happen with a stored ETag): the changes are the catalog
        removed = None
    with bulk_writes.bulk_write(afterwards=catalog_rows.drop_unshown) if removed is None else nullcontext():
        if removed is None:
            shown = catalog_rows.replace(row_id, entries)
        else:
            catalog_rows.patch(shown, [as_dict(e) for e in entries], removed)
        skipped = getattr(entries, "skipped", 0)
        db.session.execute(update(CatalogCache).where(CatalogCache.id == row_id)
                           .values(skipped=skipped, generation_id=shown, **values))
        db.session.commit()
    if removed is not None:  # what a worker stopped before its clean-up left, were the store to send only changes
        bulk_writes.in_background(db.engine, catalog_rows.drop_unshown, checkpoint=False)
    _forget_request_catalog()
    return catalog_rows.count(shown), skipped


def is_stale(st: CatalogState, now: datetime | None = None) -> bool:
    ttl = int(current_app.config["CATALOG_TTL_SECONDS"])
    if st.checked_at is None:
        return True
    if st.last_error:
        ttl = min(ttl, int(current_app.config["MARKETPLACE_RETRY_FAILED_SECONDS"]))
    return (now or utcnow()) - st.checked_at >= timedelta(seconds=ttl)


def refresh_in_background(st: CatalogState | None = None) -> bool:
    """Start a refresh thread when the catalog is stale and none runs in this process; never waits."""
    st = st or state()
    if not is_stale(st):
        return False
    url = catalog_url()
    with _inflight_lock:
        if url in _inflight:
            return False
        _inflight.add(url)
    app = current_app._get_current_object()

    def run():
        try:
            with app.app_context():
                refresh()
        except Exception:  # noqa: BLE001 — a background thread must never die loudly
            log.exception("background catalog refresh failed")
        finally:
            with _inflight_lock:
                _inflight.discard(url)

    thread = threading.Thread(target=run, name="catalog-refresh", daemon=True)
    _threads[:] = [t for t in _threads if t.is_alive()] + [thread]
    thread.start()
    st.refreshing = True
    return True


def wait_for_background(timeout: float = 10.0) -> None:
    """Tests and the CLI: wait until the refresh threads of this process have finished."""
    for thread in list(_threads):
        thread.join(timeout)


# --- browsing -----------------------------------------------------------------------------------

def installed_versions(slugs=None) -> dict[str, str]:
    """slug -> installed version, of every module or only of `slugs` (a page's)."""
    query = select(Module.slug, Module.version)
    if slugs is not None:
        query = query.where(Module.slug.in_(list(slugs)))
    return dict(db.session.execute(query).all())


def action_for(entry: dict, installed: dict[str, str]) -> dict:
    """The button a card shows: install, update to x.y, installed (with reinstall), or incompatible."""
    current = installed.get(entry["slug"])
    compatible = entry["compatible"]
    if current is None:
        return {"kind": "install" if compatible else "incompatible", "version": compatible or entry["version"]}
    if newer(compatible, current):
        return {"kind": "update", "version": compatible, "installed": current}
    return {"kind": "installed", "version": current, "installed": current,
            "reinstall": compatible if compatible == current else None}


Page = catalog_rows.Page


# What a marketplace page shows of the catalog and the installed modules moves only with these:
# the stored catalog, module code (install, update, uninstall, rollback) and module rows written
# any other way. A toggle moves none of them, so a busy panel keeps serving the page it read.
PAGE_DEPENDS_ON = ("catalog", "code", "sidebar")


def browse_page(shown: Catalog, query: str = "", category: str = "", price: str = "", show: str = "",
                page: int = 1, per_page: int = 24) -> tuple[Page, dict[str, str]]:
    """A page of the shown catalog and the installed version of each module on it, read from the
    database once per process until one of `PAGE_DEPENDS_ON` moves. Callers must not change them."""
    key = (shown.generation_id, shown.fetched_at, query, category, price, show, page, per_page)

    def read() -> tuple[Page, dict[str, str]]:
        found = browse(shown, query, category, price, show, page, per_page)
        return found, installed_versions(e["slug"] for e in found.entries)
    return counted.cache("marketplace_pages", PAGE_DEPENDS_ON, 64).get_or_compute(key, read)


def browse(shown: Catalog, query: str = "", category: str = "", price: str = "", show: str = "", page: int = 1,
           per_page: int = 24) -> Page:
    """A page of the shown catalog, filtered and searched in the database."""
    slugs = [row["slug"] for row in catalog_rows.updates(shown.generation_id)] if show == "updates" else None
    unfiltered = not (query.split() or category or price or show)
    return catalog_rows.browse(shown.generation_id, query, category, price, installed_only=show == "installed",
                               slugs=slugs, page=page, per_page=per_page, total=shown.count if unfiltered else None)


def updates_available(shown: Catalog | None = None) -> list[dict]:
    """Installed modules with a newer version this panel can run, by name."""
    return catalog_rows.updates((shown or current_catalog()).generation_id)


def paid_slugs() -> list[str]:
    """The modules the shown catalog marks paid (the one source of "paid": never a manifest)."""
    return catalog_rows.paid_slugs(current_catalog().generation_id)


class Entries:
    """The shown catalog as a read-only mapping slug -> entry, each row read when first asked for:
    a dependency plan looks at a handful of the catalog's modules, never the whole of it."""

    def __init__(self, shown: Catalog | None = None):
        self.shown = shown or current_catalog()
        self._read: dict[str, dict | None] = {}

    def get(self, slug, default=None):
        if slug not in self._read:
            self._read[slug] = catalog_rows.entry(self.shown.generation_id, slug)
        found = self._read[slug]
        return default if found is None else found

    def __len__(self) -> int:
        return self.shown.count


def verdicts(slugs) -> dict[str, tuple]:
    """slug -> (compatible version, newest version) in the shown catalog, for a page of cards."""
    return catalog_rows.verdicts(current_catalog().generation_id, slugs)
