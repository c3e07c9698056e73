"""Catalog entries as the store sends them, checked and normalised before anything stores them.

Every field is bounded (LIMITS), addresses are http(s) only, versions and specifiers parse; an
entry that fails is skipped and counted, never stored half-checked.
"""

import json
import re
from functools import lru_cache
from typing import Annotated, Any
from urllib.parse import urljoin, urlsplit

import msgspec
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


# --- the common shape, decoded straight into typed structures --------------------------------------
# An entry already in its normalised form (every text within its limit, versions in canonical form and
# in order, addresses plain http(s), icon and slugs well-formed) is decoded by msgspec into these
# structures in one C pass and stored as it is: validate_entry would return the same values. Anything
# else (a longer text to cut, a null, an odd address, a missing `versions`...) fails here and takes
# validate_entry, the full rule, so the result is the same either way.

def _limited(key: str, **more):
    return Annotated[str, msgspec.Meta(max_length=LIMITS[key], **more)]


def _inner(pattern: re.Pattern) -> str:
    """A rule's pattern without its anchors, and the newline its `$` lets through at the end."""
    return f"(?:{pattern.pattern[1:-1]})\\n?"


# SLUG_RE, ICON_RE and a plain address or nothing (see safe_url), in one match of the four values
# joined by NUL, which none of them can hold: a quarter of the regular expression calls.
_SHAPES_RE = re.compile(f"{_inner(SLUG_RE)}\\x00{_inner(ICON_RE)}\\x00(?:{_inner(PLAIN_URL_RE)})?\\x00"
                        f"(?:{_inner(PLAIN_URL_RE)})?\\Z", re.ASCII)


class FastRelease(msgspec.Struct, kw_only=True):
    version: Annotated[str, msgspec.Meta(max_length=64)]
    date: _limited("date") = ""
    requires_core: _limited("requires_core") = ""
    sha256: Annotated[str, msgspec.Meta(pattern="^(?:[0-9a-f]{64})?$")] = ""
    signature: _limited("signature") = ""
    size: Annotated[int, msgspec.Meta(ge=0)] = 0
    download_url: _limited("download_url", min_length=1)  # empty: validate_entry fills in the default


class FastEntry(msgspec.Struct, kw_only=True):
    slug: str  # slug, icon and both addresses: checked together by _SHAPES_RE
    name: _limited("name", min_length=1)
    version: Annotated[str, msgspec.Meta(max_length=64)]
    summary: _limited("summary") = ""
    category: _limited("category") = ""
    author: _limited("author") = ""
    paid: bool = False
    price: _limited("price") = ""
    trial_days: int = 0
    icon: str = "puzzle"
    docs_url: Annotated[str, msgspec.Meta(max_length=LIMITS["url"])] = ""
    homepage: Annotated[str, msgspec.Meta(max_length=LIMITS["url"])] = ""
    requires_core: _limited("requires_core") = ""
    requires: Annotated[dict[Annotated[str, msgspec.Meta(pattern=SLUG_RE.pattern)],
                             Annotated[str, msgspec.Meta(max_length=100)]], msgspec.Meta(max_length=50)] = {}
    has_eula: bool = False
    versions: Annotated[list[FastRelease], msgspec.Meta(min_length=1, max_length=500)]


_decode_fast = msgspec.json.Decoder(FastEntry).decode


def _normal_form(entry: FastEntry) -> bool:
    """Whether validate_entry would return `entry` unchanged: what the types above cannot say."""
    if not _SHAPES_RE.match(f"{entry.slug}\x00{entry.icon}\x00{entry.docs_url}\x00{entry.homepage}"):
        return False
    try:  # the types above already bound the specifiers' length: only their rule is left (cached)
        if (entry.name.strip() != entry.name or entry.category.strip() != entry.category
                or _normalized_version(entry.version) != entry.version
                or entry.requires_core and _checked_specifier(entry.requires_core) != entry.requires_core):
            return False
        for release in entry.versions:
            if (_normalized_version(release.version) != release.version
                    or release.requires_core and _checked_specifier(release.requires_core) != release.requires_core):
                return False
    except Malformed:
        return False
    versions = entry.versions
    return len(versions) == 1 or all(sort_key(a.version) <= sort_key(b.version) for a, b in zip(versions, versions[1:]))


def fast_entry(raw) -> FastEntry | None:
    """The entry in `raw` (JSON bytes) when it has the common, already-normal shape; None otherwise."""
    try:
        entry = _decode_fast(raw)
    except msgspec.ValidationError:
        return None
    return entry if _normal_form(entry) else None


class _Document(msgspec.Struct):
    """A catalog document's outline: its entries kept as undecoded JSON, one per entry."""
    modules: list[msgspec.Raw] | None = None
    since: Any = None
    removed: Any = None


_decode_document = msgspec.json.Decoder(list[msgspec.Raw] | _Document).decode


def decode_catalog(body: bytes):
    """A catalog answer, with its entries left as JSON bytes for Validated to decode one at a time
    (typed when they fit, see fast_entry); json.loads's reading of it whenever msgspec's would differ
    (a document it refuses, a `modules` that is not a list): the same outcome as before either way."""
    try:
        outline = _decode_document(body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return json.loads(body)
    if isinstance(outline, list):
        return outline
    if outline.modules is None:
        return json.loads(body)
    document = {"modules": outline.modules}
    if outline.since is not None:
        document["since"] = outline.since
    if outline.removed is not None:
        document["removed"] = outline.removed
    return document


def catalog_entries(document):
    """The list of entries a catalog document holds (a list, or an object with `modules`)."""
    entries = document.get("modules") if isinstance(document, dict) else document
    if not isinstance(entries, list):
        raise StoreError(_l("The marketplace sent a catalog the panel does not understand."))
    return entries


class Validated:
    """Every well-formed entry of `entries`, one at a time (so they can stream into the database),
    with how many were skipped (malformed or a repeated slug) once iterated. `entries` are parsed
    entries, or JSON bytes (decode_catalog's): those come out as a FastEntry when they have the common
    shape (see fast_entry), as validate_entry's dict otherwise; as_dict makes either a dict."""

    def __init__(self, entries: list):
        self.entries, self.skipped = entries, 0

    def __iter__(self):
        seen = set()
        for item in self.entries:
            entry = fast_entry(item) if item.__class__ is msgspec.Raw else None
            if entry is not None:
                slug = entry.slug
            else:
                try:
                    entry = validate_entry(json.loads(bytes(item)) if item.__class__ is msgspec.Raw else item)
                except Malformed:
                    self.skipped += 1
                    continue
                slug = entry["slug"]
            if slug in seen:
                self.skipped += 1
                continue
            seen.add(slug)
            yield entry


def as_dict(entry) -> dict:
    """A validated entry as validate_entry's dict (a FastEntry holds the same values)."""
    return msgspec.to_builtins(entry) if isinstance(entry, FastEntry) else entry


def validate_catalog(document) -> tuple[list[dict], int]:
    """Every well-formed entry, and how many were skipped."""
    validated = Validated(catalog_entries(document))
    modules = [as_dict(entry) for entry in validated]
    return modules, validated.skipped
