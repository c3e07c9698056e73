"""Catalog entries as the store sends them, checked and normalised before anything stores them.

Every field is bounded (LIMITS), addresses are http(s) only, versions and specifiers parse; an
entry that fails is skipped and counted, never stored half-checked.
"""

import re
from functools import lru_cache
from urllib.parse import urljoin, urlsplit

from flask_babel import lazy_gettext as _l

from ..manifest import SLUG_RE
from ..versions import is_valid_specifier, normalized, sort_key
from .client import StoreError

ICON_RE = re.compile(r"^[a-z0-9-]{1,40}$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
SPACE_RE = re.compile(r"\s")  # str.isspace's characters: a catalog of 60,000 checks 120,000 addresses
# The common shape of an address (http(s), a plain host name, an optional port, a printable ASCII
# rest): accepted as it is without urlsplit, which costs ten times more; anything else takes the full rule.
PLAIN_URL_RE = re.compile(r"^https?://[a-z0-9-]+(?:\.[a-z0-9-]+)*(?::[0-9]{1,5})?(?:/[!-~]*)?$", re.ASCII)
LIMITS = {"name": 120, "summary": 300, "category": 64, "author": 120, "price": 60, "docs_url": 500,
          "homepage": 500, "requires_core": 100, "signature": 200, "download_url": 500, "date": 32,
          "description": 20000, "eula": 100000, "notes": 10000, "caption": 200, "title": 120, "url": 500, "sha256": 200}


class Malformed(ValueError):
    pass


# --- validation -----------------------------------------------------------------------------------

def _text(item: dict, key: str, required: bool = False) -> str:
    value = item.get(key)
    if value.__class__ is str and value:  # the common case first: a catalog asks this 540,000 times
        return value[: LIMITS.get(key, 200)]
    if value is None or value == "":
        if required:
            raise Malformed(key)
        return ""
    if not isinstance(value, str):
        raise Malformed(key)
    return value[: LIMITS.get(key, 200)]


def safe_url(value, base: str | None = None) -> str:
    """An http(s) address (resolved against `base` when relative), or "" for anything else."""
    if not isinstance(value, str) or not value or len(value) > LIMITS["url"]:
        return ""
    if base is None and PLAIN_URL_RE.match(value):
        return value
    if SPACE_RE.search(value):
        return ""
    try:
        url = urljoin(base, value) if base else value
        parts = urlsplit(url)
        return url if parts.scheme in ("http", "https") and parts.hostname else ""
    except ValueError:  # an unreadable address ("http://[") is no address, not a failed refresh
        return ""


@lru_cache(maxsize=8192)
def _normalized_version(value: str) -> str:
    """A catalog repeats a few version texts (and specifiers) thousands of times: parsed once each."""
    text = normalized(value)
    if text is None:
        raise Malformed("version")
    return text


@lru_cache(maxsize=4096)
def _checked_specifier(value: str) -> str:
    if not is_valid_specifier(value):
        raise Malformed("requires_core")
    return value


def _version_text(value) -> str:
    if not isinstance(value, str) or len(value) > 64:
        raise Malformed("version")
    return _normalized_version(value)


def _specifier_text(value) -> str:
    if value in (None, ""):
        return ""
    if not isinstance(value, str) or len(value) > LIMITS["requires_core"]:
        raise Malformed("requires_core")
    return _checked_specifier(value)


def _release(item, slug: str) -> dict:
    if not isinstance(item, dict):
        raise Malformed("versions")
    get = item.get
    version = _version_text(get("version"))
    size = get("size", 0)
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise Malformed("size")
    # Text fields: a str is cut to its limit here (the common case, 360,000 times a catalog);
    # anything else gets _text's full rule.
    sha = get("sha256")
    sha = (sha[:LIMITS["sha256"]] if sha.__class__ is str else _text(item, "sha256")).lower()
    if sha and not SHA256_RE.match(sha):
        raise Malformed("sha256")
    download = get("download_url")
    download = download[:LIMITS["download_url"]] if download.__class__ is str else _text(item, "download_url")
    date, signature = get("date"), get("signature")
    return {"version": version, "date": date[:LIMITS["date"]] if date.__class__ is str else _text(item, "date"),
            "requires_core": _specifier_text(get("requires_core")), "sha256": sha,
            "signature": signature[:LIMITS["signature"]] if signature.__class__ is str else _text(item, "signature"),
            "size": size, "download_url": download or f"api/modules/{slug}/{version}/download"}


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
    if not isinstance(requires, dict) or requires and not all(
            isinstance(k, str) and SLUG_RE.match(k) and isinstance(v, str) for k, v in requires.items()):
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
    releases = [_release(v, slug) for v in versions]
    if len(releases) > 1:
        releases.sort(key=lambda r: sort_key(r["version"]))
    return {
        "slug": slug, "name": name, "version": version, "summary": _text(item, "summary"),
        "category": _text(item, "category").strip(), "author": _text(item, "author"), "paid": paid,
        "price": _text(item, "price"), "trial_days": trial, "icon": icon if ICON_RE.match(icon) else "puzzle",
        "docs_url": safe_url(item.get("docs_url")), "homepage": safe_url(item.get("homepage")),
        "requires_core": _specifier_text(item.get("requires_core")),
        "requires": {k: v[:100] for k, v in list(requires.items())[:50]} if requires else {},
        "has_eula": bool(item.get("has_eula")), "versions": releases,
    }


def catalog_entries(document):
    """The list of entries a catalog document holds (a list, or an object with `modules`)."""
    entries = document.get("modules") if isinstance(document, dict) else document
    if not isinstance(entries, list):
        raise StoreError(_l("The marketplace sent a catalog the panel does not understand."))
    return entries


class Validated:
    """Every well-formed entry of `entries`, one at a time (so they can stream into the database),
    with how many were skipped (malformed or a repeated slug) once iterated."""

    def __init__(self, entries: list):
        self.entries, self.skipped = entries, 0

    def __iter__(self):
        seen = set()
        for item in self.entries:
            try:
                entry = validate_entry(item)
            except Malformed:
                self.skipped += 1
                continue
            if entry["slug"] in seen:
                self.skipped += 1
                continue
            seen.add(entry["slug"])
            yield entry


def validate_catalog(document) -> tuple[list[dict], int]:
    """Every well-formed entry, and how many were skipped."""
    validated = Validated(catalog_entries(document))
    modules = list(validated)
    return modules, validated.skipped
