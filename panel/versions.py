"""Version numbers: the panel's own, and the one rule for parsing and comparing any other.

Versions follow PEP 440 (`packaging`). One behaviour for a version that cannot be read (invalid,
missing or not text): nothing here raises on it; it sorts below every valid version (two unreadable
versions are equal); it is therefore never newer than a valid one, while a valid version is newer
than it; and it matches no specifier except the empty one (which every version matches).

A specifier is matched the PEP 440 way: a pre-release (``2.0rc1``) satisfies it only when the
specifier itself names a pre-release. An unreadable specifier matches nothing.
"""

from __future__ import annotations

from functools import lru_cache

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

CORE_VERSION = "1.0.0"  # the panel core's own version: modules state `requires_core` against it


@lru_cache(maxsize=4096)
def _parse_text(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def parse(value) -> Version | None:
    """The version, or None when it cannot be read."""
    if isinstance(value, Version):
        return value
    return _parse_text(value) if isinstance(value, str) and len(value) <= 64 else None


def is_valid(value) -> bool:
    return parse(value) is not None


def normalized(value) -> str | None:
    """The canonical text of a version ("1.0" stays "1.0", "v1.2" becomes "1.2"), or None."""
    parsed = parse(value)
    return None if parsed is None else str(parsed)


def sort_key(value) -> tuple:
    """Orders versions; an unreadable one comes before every valid one."""
    parsed = parse(value)
    return (0,) if parsed is None else (1, parsed)


def newer(candidate, than) -> bool:
    """True when `candidate` is a later version than `than` (see the module's rule for invalid ones)."""
    return sort_key(candidate) > sort_key(than)


def older(candidate, than) -> bool:
    return sort_key(candidate) < sort_key(than)


def compare(installed, uploaded) -> str:
    """What installing `uploaded` over `installed` is: "update", "same" or "downgrade"."""
    if newer(uploaded, installed):
        return "update"
    return "downgrade" if newer(installed, uploaded) else "same"


@lru_cache(maxsize=4096)
def parse_specifier(text: str) -> SpecifierSet | None:
    """The specifier ("" is the empty one, matching anything), or None when it cannot be read."""
    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        return None


def matches(version, spec) -> bool:
    """Whether `version` satisfies the specifier `spec` (text or SpecifierSet; empty: anything)."""
    spec_text = str(spec or "")
    if not spec_text.strip():
        return True
    specifier = spec if isinstance(spec, SpecifierSet) else parse_specifier(spec_text)
    parsed = parse(version)
    # Explicit, not packaging's default (which changed across its releases): a pre-release only
    # when the specifier names one.
    return (specifier is not None and parsed is not None
            and specifier.contains(parsed, prereleases=bool(specifier.prereleases)))


def core_compatible(spec) -> bool:
    """Whether this panel satisfies a `requires_core` specifier."""
    return matches(CORE_VERSION, spec)


def is_valid_specifier(text) -> bool:
    return isinstance(text, str) and parse_specifier(text) is not None
