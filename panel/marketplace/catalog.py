"""The cached catalog: validated on fetch, stored in `catalog_cache`, read from memory, refreshed in the background.

Pages never wait on the network: they read the stored catalog; when it is older than
CATALOG_TTL_SECONDS a daemon thread (with its own app context) fetches a new one.
"""

import logging
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urljoin, urlsplit

from flask import current_app, g
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, bindparam, or_, select, update

from ..extensions import db
from ..manifest import SLUG_RE
from ..models import CatalogCache, Module, utcnow
from ..versions import core_compatible, is_valid_specifier, newer, normalized, sort_key
from .client import StoreClient, StoreError

log = logging.getLogger(__name__)

CATALOG_PATH = "api/modules"
ICON_RE = re.compile(r"^[a-z0-9-]{1,40}$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
LIMITS = {"name": 120, "summary": 300, "category": 64, "author": 120, "price": 60, "docs_url": 500,
          "homepage": 500, "requires_core": 100, "signature": 200, "download_url": 500, "date": 32,
          "description": 20000, "eula": 100000, "notes": 10000, "caption": 200, "title": 120, "url": 500}


class Malformed(ValueError):
    pass


# --- validation -----------------------------------------------------------------------------------

def _text(item: dict, key: str, required: bool = False) -> str:
    value = item.get(key)
    if value is None or value == "":
        if required:
            raise Malformed(key)
        return ""
    if not isinstance(value, str):
        raise Malformed(key)
    return value[: LIMITS.get(key, 200)]


def safe_url(value, base: str | None = None) -> str:
    """An http(s) address (resolved against `base` when relative), or "" for anything else."""
    if not isinstance(value, str) or not value or len(value) > LIMITS["url"] or any(c.isspace() for c in value):
        return ""
    url = urljoin(base, value) if base else value
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.hostname else ""


def _version_text(value) -> str:
    if not isinstance(value, str) or len(value) > 64:
        raise Malformed("version")
    text = normalized(value)
    if text is None:
        raise Malformed("version")
    return text


def _specifier_text(value) -> str:
    if value in (None, ""):
        return ""
    if not isinstance(value, str) or len(value) > LIMITS["requires_core"]:
        raise Malformed("requires_core")
    if not is_valid_specifier(value):
        raise Malformed("requires_core")
    return value


def _release(item, slug: str) -> dict:
    if not isinstance(item, dict):
        raise Malformed("versions")
    version = _version_text(item.get("version"))
    size = item.get("size", 0)
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise Malformed("size")
    sha = _text(item, "sha256").lower()
    if sha and not SHA256_RE.match(sha):
        raise Malformed("sha256")
    download = _text(item, "download_url") or f"api/modules/{slug}/{version}/download"
    return {"version": version, "date": _text(item, "date"), "requires_core": _specifier_text(item.get("requires_core")),
            "sha256": sha, "signature": _text(item, "signature"), "size": size, "download_url": download}


def validate_entry(item) -> dict:
    """One catalog entry, normalised; raises Malformed when a field is missing or of the wrong type."""
    if not isinstance(item, dict):
        raise Malformed("entry")
    slug = item.get("slug")
    if not isinstance(slug, str) or not SLUG_RE.match(slug):
        raise Malformed("slug")
    name = _text(item, "name", required=True).strip()
    if not name:
        raise Malformed("name")
    version = _version_text(item.get("version"))
    paid = item.get("paid", False)
    if not isinstance(paid, bool):
        raise Malformed("paid")
    trial = item.get("trial_days", 0) or 0
    if isinstance(trial, bool) or not isinstance(trial, int):
        raise Malformed("trial_days")
    requires = item.get("requires") or {}
    if not isinstance(requires, dict) or not all(isinstance(k, str) and SLUG_RE.match(k) and isinstance(v, str)
                                                 for k, v in requires.items()):
        raise Malformed("requires")
    icon = item.get("icon") or ""
    if not isinstance(icon, str):
        raise Malformed("icon")
    versions = item.get("versions")
    if versions is None:
        versions = [{"version": version, "requires_core": item.get("requires_core"), "sha256": item.get("sha256"),
                     "signature": item.get("signature"), "download_url": item.get("download_url")}]
    if not isinstance(versions, list) or not versions or len(versions) > 500:
        raise Malformed("versions")
    releases = sorted((_release(v, slug) for v in versions), key=lambda r: sort_key(r["version"]))
    return {
        "slug": slug, "name": name, "version": version, "summary": _text(item, "summary"),
        "category": _text(item, "category").strip(), "author": _text(item, "author"), "paid": paid,
        "price": _text(item, "price"), "trial_days": trial, "icon": icon if ICON_RE.match(icon) else "puzzle",
        "docs_url": safe_url(item.get("docs_url")), "homepage": safe_url(item.get("homepage")),
        "requires_core": _specifier_text(item.get("requires_core")),
        "requires": {k: v[:100] for k, v in list(requires.items())[:50]},
        "has_eula": bool(item.get("has_eula")), "versions": releases,
    }


def validate_catalog(document) -> tuple[list[dict], int]:
    """Every well-formed entry, and how many were skipped."""
    entries = document.get("modules") if isinstance(document, dict) else document
    if not isinstance(entries, list):
        raise StoreError(_l("The marketplace sent a catalog the panel does not understand."))
    modules, seen, skipped = [], set(), 0
    for item in entries:
        try:
            entry = validate_entry(item)
        except Malformed:
            skipped += 1
            continue
        if entry["slug"] in seen:
            skipped += 1
            continue
        seen.add(entry["slug"])
        modules.append(entry)
    return modules, skipped


# --- what pages read ----------------------------------------------------------------------------

@dataclass
class Catalog:
    """The catalog as pages use it: entries with search text and the newest version this panel can run."""

    modules: list[dict] = field(default_factory=list)
    by_slug: dict[str, dict] = field(default_factory=dict)
    categories: list[str] = field(default_factory=list)
    fetched_at: datetime | None = None
    source_url: str = ""
    skipped: int = 0

    @classmethod
    def build(cls, modules: list[dict], **kwargs) -> "Catalog":
        for entry in modules:
            entry["search"] = " ".join((entry["name"], entry["slug"], entry["summary"], entry["author"],
                                        entry["category"])).lower()
            compatible = [r for r in entry["versions"] if core_compatible(r["requires_core"])]
            entry["compatible"] = compatible[-1]["version"] if compatible else None
        modules.sort(key=lambda e: (e["name"].lower(), e["slug"]))
        categories = sorted({e["category"] for e in modules if e["category"]}, key=str.lower)
        return cls(modules=modules, by_slug={e["slug"]: e for e in modules}, categories=categories, **kwargs)


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


_memory: dict[tuple, tuple] = {}
_memory_lock = threading.Lock()
_inflight: set[str] = set()
_inflight_lock = threading.Lock()
_threads: list[threading.Thread] = []


def store_url() -> str:
    return current_app.config["MARKETPLACE_URL"].rstrip("/") + "/"


def catalog_url(base: str | None = None) -> str:
    return urljoin(base or store_url(), CATALOG_PATH)


# Built once: every page that shows a card reads the catalog's head, and building a statement
# costs more than running it.
_HEAD = (
    select(CatalogCache.id, CatalogCache.url, CatalogCache.etag, CatalogCache.skipped, CatalogCache.fetched_at,
           CatalogCache.checked_at, CatalogCache.last_error, CatalogCache.last_error_at)
    .where(or_(CatalogCache.url == bindparam("url"),
               and_(CatalogCache.url.like(f"%/{CATALOG_PATH}"), CatalogCache.fetched_at.is_not(None))))
    .order_by((CatalogCache.url == bindparam("url")).desc(), CatalogCache.fetched_at.desc().nulls_last()).limit(2)
)


def _rows(url: str) -> tuple:
    """(current, shown): the current store's row, and the row whose catalog is shown — the current
    store's, or while it has none the last good catalog of any store. One query, without the data."""
    rows = db.session.connection().execute(_HEAD, {"url": url}).all()
    current = rows[0] if rows and rows[0].url == url else None
    if current is not None and current.fetched_at is not None:
        return current, current
    shown = next((row for row in rows if row.fetched_at is not None), None)
    return current, shown


def _catalog_for(row) -> Catalog:
    if row is None:
        return Catalog()
    key = (row.fetched_at, row.etag, row.url)
    slot = (current_app.config["SQLALCHEMY_DATABASE_URI"], row.id)
    with _memory_lock:
        cached = _memory.get(slot)
    if cached and cached[0] == key:
        return cached[1]
    data = db.session.scalar(select(CatalogCache.data).where(CatalogCache.id == row.id)) or []
    catalog = Catalog.build([dict(e) for e in data if isinstance(e, dict)], fetched_at=row.fetched_at,
                            source_url=row.url, skipped=row.skipped or 0)
    with _memory_lock:
        _memory[slot] = (key, catalog)
    return catalog


def state() -> CatalogState:
    url = catalog_url()
    current, shown = _rows(url)
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
        cached = (store, _catalog_for(_rows(catalog_url())[1]))
        g._panel_catalog = cached
    return cached[1]


def _forget_request_catalog() -> None:
    g.pop("_panel_catalog", None)


def entry(slug: str) -> dict | None:
    return current_catalog().by_slug.get(slug) if isinstance(slug, str) else None


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
    row_id = db.session.scalar(select(CatalogCache.id).where(CatalogCache.url == url[:500]))
    if row_id is None:
        db.session.add(CatalogCache(url=url[:500], data=[], checked_at=now, last_error=message, last_error_at=now))
    else:
        db.session.execute(update(CatalogCache).where(CatalogCache.id == row_id)
                           .values(checked_at=now, last_error=message, last_error_at=now))
    db.session.commit()


def refresh() -> RefreshResult:
    """A conditional fetch of the catalog; a 304 only notes the check and never rewrites the catalog."""
    try:
        return _fetch()
    finally:
        _forget_request_catalog()


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
        result = client.get_json(CATALOG_PATH, etag=etag)
        if result.not_modified:
            db.session.execute(update(CatalogCache).where(CatalogCache.id == row_id)
                               .values(checked_at=utcnow(), last_error=None, last_error_at=None))
            db.session.commit()
            return RefreshResult("unchanged", skipped=found.skipped or 0)
        modules, skipped = validate_catalog(result.data)
    except StoreError as exc:
        _record_failure(url, str(exc))
        return RefreshResult("failed", str(exc))
    finally:
        client.close()
    now = utcnow()
    values = {"data": modules, "etag": (result.etag or "")[:200] or None, "skipped": skipped, "fetched_at": now,
              "checked_at": now, "last_error": None, "last_error_at": None}
    if row_id is None:
        db.session.add(CatalogCache(url=url[:500], **values))
    else:  # an UPDATE statement: the old catalog is never loaded just to be replaced
        db.session.execute(update(CatalogCache).where(CatalogCache.id == row_id).values(**values))
    db.session.commit()
    log.info("marketplace catalog fetched: %d modules, %d skipped", len(modules), skipped)
    return RefreshResult("updated", skipped=skipped, count=len(modules))


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

def installed_versions() -> dict[str, str]:
    return dict(db.session.execute(select(Module.slug, Module.version)).all())


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


@dataclass
class Page:
    entries: list[dict]
    total: int
    page: int
    pages: int
    per_page: int


def browse(catalog: Catalog, installed: dict[str, str], query: str = "", category: str = "", price: str = "",
           show: str = "", page: int = 1, per_page: int = 24) -> Page:
    terms = query.lower().split()
    rows = catalog.modules
    if category:
        rows = [e for e in rows if e["category"] == category]
    if price == "paid":
        rows = [e for e in rows if e["paid"]]
    elif price == "free":
        rows = [e for e in rows if not e["paid"]]
    if show == "installed":
        rows = [e for e in rows if e["slug"] in installed]
    elif show == "updates":
        rows = [e for e in rows if e["slug"] in installed and newer(e["compatible"], installed[e["slug"]])]
    for term in terms:
        rows = [e for e in rows if term in e["search"]]
    total = len(rows)
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    return Page(rows[(page - 1) * per_page: page * per_page], total, page, pages, per_page)


def updates_available(catalog: Catalog | None = None, installed: dict | None = None) -> list[dict]:
    """Installed modules with a newer version this panel can run, by name."""
    catalog = catalog or current_catalog()
    installed = installed if installed is not None else installed_versions()
    rows = []
    for slug, version in installed.items():
        item = catalog.by_slug.get(slug)
        if item and newer(item["compatible"], version):
            rows.append({"slug": slug, "name": item["name"], "installed": version, "version": item["compatible"]})
    return sorted(rows, key=lambda r: r["name"].lower())
