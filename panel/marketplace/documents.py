"""Per-module documents from the store (details, changelogs, the core changelog), cached like the catalog.

Each is kept, normalised, in `catalog_cache` under its own URL; within the TTL it is served from
there, after it a conditional GET refreshes it; when the store fails a stored copy is still shown.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import select, update

from ..extensions import db, lazy_module
from ..models import CatalogCache, utcnow
from ..versions import core_compatible, sort_key
from . import cache_rows
from .catalog import store_url
from .entries import LIMITS, Malformed, _text, _version_text, safe_url
from .client import StoreClient, StoreError

# Only pages that show a description or a changelog render markdown.
markdown_lib = lazy_module("markdown")
nh3 = lazy_module("nh3")

ALLOWED_TAGS = {"p", "br", "hr", "strong", "em", "b", "i", "code", "pre", "blockquote", "ul", "ol", "li",
                "h1", "h2", "h3", "h4", "h5", "h6", "a", "table", "thead", "tbody", "tr", "th", "td", "del"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}}


def render_markdown(text: str) -> Markup:
    """Markdown to HTML, then sanitised: no scripts, no event attributes, links only http(s) or mailto."""
    html = markdown_lib.markdown(text or "", extensions=["extra", "sane_lists"], output_format="html")
    clean = nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes={"http", "https", "mailto"},
                      link_rel="noopener noreferrer nofollow", strip_comments=True)
    return Markup(clean)


@dataclass
class Document:
    data: dict
    fetched_at: datetime | None
    error: str | None = None


def _releases(items, base: str) -> list[dict]:
    rows = []
    for item in items if isinstance(items, list) else []:
        try:
            if not isinstance(item, dict):
                raise Malformed("version")
            version = _version_text(item.get("version"))
            spec = item.get("requires_core") or ""
            if not isinstance(spec, str):
                raise Malformed("requires_core")
            rows.append({"version": version, "date": _text(item, "date"), "notes": _text(item, "notes"),
                         "requires_core": spec[:100], "compatible": core_compatible(spec)})
        except Malformed:
            continue
    rows.sort(key=lambda r: sort_key(r["version"]), reverse=True)
    return rows


def normalize_detail(data, base: str) -> dict:
    if not isinstance(data, dict):
        raise StoreError(_l("The marketplace sent a module description the panel does not understand."))
    shots = []
    for shot in data.get("screenshots") or []:
        if isinstance(shot, dict) and safe_url(shot.get("url"), base):
            caption = shot.get("caption") if isinstance(shot.get("caption"), str) else ""
            shots.append({"url": safe_url(shot.get("url"), base), "caption": caption[:LIMITS["caption"]]})
    links = []
    for link in data.get("links") or []:
        if isinstance(link, dict) and safe_url(link.get("url")):
            title = link.get("title") if isinstance(link.get("title"), str) else ""
            links.append({"url": safe_url(link.get("url")), "title": (title or link["url"])[:LIMITS["title"]]})

    def text(key):
        value = data.get(key)
        return value[: LIMITS.get(key, 200)] if isinstance(value, str) else ""

    return {"description": text("description"), "eula": text("eula"), "screenshots": shots[:12], "links": links[:20],
            "docs_url": safe_url(data.get("docs_url")), "homepage": safe_url(data.get("homepage")),
            "versions": _releases(data.get("versions"), base)}


def normalize_changelog(data, base: str) -> dict:
    if not isinstance(data, dict):
        raise StoreError(_l("The marketplace sent a changelog the panel does not understand."))
    return {"versions": _releases(data.get("versions"), base)}


def _fetch(path: str, normalize, network: bool = True) -> Document | None:
    base = store_url()
    url = base + path
    row = db.session.scalars(select(CatalogCache).where(CatalogCache.url == url[:500])).first()
    if not network:  # pages: only what is stored, however old
        return Document(row.data, row.fetched_at, row.last_error) if row is not None and row.fetched_at else None
    ttl = int(current_app.config["CATALOG_TTL_SECONDS"])
    if row is not None and row.fetched_at and row.checked_at and not row.last_error \
            and utcnow() - row.checked_at < timedelta(seconds=ttl):
        return Document(row.data, row.fetched_at)
    try:
        client = StoreClient.from_config(current_app.config)
        try:
            result = client.get_json(path, etag=row.etag if row is not None and row.fetched_at else None)
        finally:
            client.close()
        if result.not_modified:
            db.session.execute(update(CatalogCache).where(CatalogCache.id == row.id)
                               .values(checked_at=utcnow(), last_error=None))
            db.session.commit()
            return Document(row.data, row.fetched_at)
        data = normalize(result.data, base)
    except StoreError as exc:
        db.session.rollback()
        if row is not None and row.fetched_at:
            db.session.execute(update(CatalogCache).where(CatalogCache.id == row.id)
                               .values(checked_at=utcnow(), last_error=str(exc), last_error_at=utcnow()))
            db.session.commit()
            return Document(row.data, row.fetched_at, str(exc))
        raise
    now = utcnow()
    cache_rows.save(url, data=data, etag=(result.etag or "")[:200] or None, fetched_at=now, checked_at=now,
                    last_error=None, last_error_at=None)
    return Document(data, now)


def module_detail(slug: str, network: bool = True) -> Document | None:
    return _fetch(f"api/modules/{slug}", normalize_detail, network)


def module_changelog(slug: str) -> Document:
    return _fetch(f"api/changelog/{slug}", normalize_changelog)


def core_changelog() -> Document:
    return _fetch("api/changelog", normalize_changelog)
