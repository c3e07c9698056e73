"""The marketplace's pages: each builder returns every variable its template needs."""

import re

from flask import current_app, url_for
from flask_babel import gettext

from ..marketplace import catalog, documents
from ..marketplace.client import StoreError
from ..versions import CORE_VERSION, core_compatible, newer
from .fragments import request_key, request_token
from .license import marketplace_license
from .market_cards import market_card

PER_PAGE = 24
PRICES = ("paid", "free")
SHOWS = ("installed", "updates")
TABS = ("description", "versions", "licence")


def clean_filters(args) -> dict:
    """The marketplace filters from a query string or form, bounded and defaulted."""
    page = args.get("page", "1")
    return {
        "query": (args.get("q") or "")[:100],
        "category": (args.get("category") or "")[:64],
        "price": args.get("price") if args.get("price") in PRICES else "",
        "show": args.get("show") if args.get("show") in SHOWS else "",
        # ASCII digits only: "²".isdigit() is true, and int("²") raises.
        "page": int(page) if re.fullmatch(r"[1-9][0-9]{0,5}", str(page)) else 1,
    }


def filter_args(filters: dict, **override) -> dict:
    """Query arguments for a link that keeps the filters (empty ones left out)."""
    merged = {**filters, **override}
    args = {"q": merged["query"], "category": merged["category"], "price": merged["price"],
            "show": merged["show"], "page": merged["page"] if merged["page"] != 1 else ""}
    return {k: v for k, v in args.items() if v}


def marketplace_context(filters: dict, refresh_result: catalog.RefreshResult | None = None,
                        background: bool = True) -> dict:
    st = catalog.state()
    if background and refresh_result is None:
        catalog.refresh_in_background(st)
    page, installed = catalog.browse_page(st.catalog, filters["query"], filters["category"], filters["price"],
                                          filters["show"], filters["page"], PER_PAGE)
    labels = action_labels()
    base = url_for("marketplace.index")
    cards = [market_card(e, action_view(catalog.action_for(e, installed), labels), marketplace_license(e),
                         f"{base}/{e['slug']}") for e in page.entries]
    return {
        "state": st, "cards": cards, "filters": filters,
        # What the pager shows: not the page's entries, which the cards hold (and the key would copy).
        "pager": {"total": page.total, "page": page.page, "pages": page.pages}, "filter_args": filter_args,
        "categories": st.catalog.categories, "refresh_result": refresh_result,
        "waiting": not st.catalog.count and not st.last_error and (st.refreshing or st.checked_at is None),
        "core_version": CORE_VERSION, "labels": labels, "mp_base": base,
    }


def action_labels() -> dict:
    """Translated once per language and application (the catalogs do not change while it runs), not
    once per card nor per page: ten look-ups were a tenth of a kept marketplace page. Callers must
    not change the dict."""
    kept = current_app.extensions.setdefault("panel_action_labels", {})
    locale = request_key()[0]
    found = kept.get(locale)
    if found is None:
        found = kept[locale] = _translated_labels()
    return found


def _translated_labels() -> dict:
    return {"install": gettext("Install"), "reinstall": gettext("Reinstall"), "installed": gettext("Installed"),
            "incompatible": gettext("Needs a newer panel"), "paid": gettext("Paid"), "free": gettext("Free"),
            "paid_title": gettext("Paid module"), "free_title": gettext("Free module"), "docs": gettext("Docs"),
            "buy": gettext("Buy")}


ACTION_STYLE = {"install": ("download", "btn-primary"), "update": ("arrow-up-circle", "btn-success"),
                "reinstall": ("arrow-repeat", "btn-outline-secondary")}


def action_view(action: dict, labels: dict) -> dict:
    """The card's button: what it says, looks like, and which version it installs."""
    kind = action["kind"]
    view = dict(action)
    if kind == "update":
        view["label"] = gettext("Update to %(version)s", version=action["version"])
    else:
        view["label"] = labels.get(kind, "")
    view["icon"], view["css"] = ACTION_STYLE.get(kind, ("slash-circle", "btn-outline-secondary"))
    if action.get("reinstall"):
        view["reinstall_icon"], view["reinstall_css"] = ACTION_STYLE["reinstall"]
    return view


def _versions_with_marks(versions: list[dict], installed: str | None) -> list[dict]:
    rows = []
    for release in versions:
        row = dict(release)
        row["notes_html"] = documents.render_markdown(release.get("notes", ""))
        row["compatible"] = core_compatible(release.get("requires_core", ""))
        row["is_installed"] = installed is not None and release["version"] == installed
        row["older"] = newer(installed, release["version"])
        rows.append(row)
    return rows


def detail_context(slug: str, tab: str, network: bool) -> dict | None:
    """The module card page; None when the catalog has no such module."""
    item = catalog.entry(slug)
    if item is None:
        return None
    installed = catalog.installed_versions([slug])
    tab = tab if tab in TABS else "description"
    doc, error = None, None
    try:
        doc = documents.module_detail(slug, network=network)
    except StoreError as exc:
        error = str(exc)
    if doc is not None and doc.error:
        error = doc.error
    data = doc.data if doc is not None else None
    versions = data["versions"] if data else [dict(v, notes="") for v in reversed(item["versions"])]
    return {
        "item": item, "tab": tab, "tabs": TABS, "detail": data, "loaded": data is not None or error is not None,
        "error": error, "action": action_view(catalog.action_for(item, installed), action_labels()),
        "license": marketplace_license(item),
        "labels": action_labels(), "csrf": request_token(), "mp_base": url_for("marketplace.index"),
        "installed": installed.get(slug),
        "description_html": documents.render_markdown(data["description"] if data else item["summary"]),
        "eula_html": documents.render_markdown(data["eula"]) if data and data["eula"] else None,
        "versions": _versions_with_marks(versions, installed.get(slug)), "core_version": CORE_VERSION,
    }


def changes_context(slug: str, installed_version: str | None) -> dict:
    """Every version newer than the installed one, newest first, with notes and minimum core version."""
    item = catalog.entry(slug)
    error, versions = None, []
    try:
        doc = documents.module_changelog(slug)
        versions, error = doc.data["versions"], doc.error
    except StoreError as exc:
        error = str(exc)
        if item:
            versions = [dict(v, notes="") for v in reversed(item["versions"])]
    if installed_version:
        versions = [v for v in versions if newer(v["version"], installed_version)]
    name = item["name"] if item else slug
    return {"slug": slug, "name": name, "installed": installed_version, "error": error,
            "versions": _versions_with_marks(versions, installed_version), "core_version": CORE_VERSION}


def whats_new_context() -> dict:
    error, versions = None, []
    try:
        doc = documents.core_changelog()
        versions, error = doc.data["versions"], doc.error
    except StoreError as exc:
        error = str(exc)
    rows = []
    for release in versions:
        rows.append({**release, "notes_html": documents.render_markdown(release.get("notes", "")),
                     "current": release["version"] == CORE_VERSION,
                     "newer": newer(release["version"], CORE_VERSION)})
    return {"versions": rows, "error": error, "core_version": CORE_VERSION}


def updates_widget_context() -> dict:
    """Dashboard widget: installed modules with a newer compatible version in the cached catalog."""
    st = catalog.state()
    return {"updates": catalog.updates_available(st.catalog), "catalog_fetched_at": st.catalog.fetched_at}
