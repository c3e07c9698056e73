"""`module.json`: parse and validate a module's manifest. Every error names the field."""

import json
import re
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from . import versions
from .errors import ManifestError

SLUG_RE = re.compile(r"^[a-z][a-z0-9_]{1,47}$")
# Names a module may not take: they would shadow the panel or Python itself.
RESERVED_SLUGS = frozenset(
    {"core", "panel", "admin", "static", "api", "modules", "marketplace", "store", "license",
     "setup", "login", "logout", "jobs", "test", "tests", "sys", "os", "json", "site", "builtins"}
)
MAX_MANIFEST_BYTES = 64 * 1024
MAX_DEPTH = 8
SETTING_TYPES = ("text", "secret", "boolean", "integer", "choice", "url", "email")
TRUE_WORDS = frozenset({"1", "on", "true", "yes"})  # how a form or a stored value spells a true boolean
REQUIRED = ("slug", "name", "version")
TEXT_LIMITS = {"name": 120, "description": 2000, "author": 120, "category": 64,
               "homepage": 500, "docs_url": 500}


@dataclass
class Manifest:
    slug: str
    name: str
    version: Version
    description: str = ""
    author: str = ""
    category: str = ""
    homepage: str = ""
    docs_url: str = ""
    requires_core: SpecifierSet = field(default_factory=SpecifierSet)
    requires: dict[str, SpecifierSet] = field(default_factory=dict)
    menu: dict = field(default_factory=dict)
    settings: list[dict] = field(default_factory=list)
    raw: dict = field(default_factory=dict)

    @property
    def version_str(self) -> str:
        return str(self.version)


def _depth(value, level=0) -> int:
    if isinstance(value, dict):
        return max([_depth(v, level + 1) for v in value.values()] or [level + 1])
    if isinstance(value, list):
        return max([_depth(v, level + 1) for v in value] or [level + 1])
    return level


def _text(data: dict, name: str) -> str:
    value = data.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ManifestError(_l("module.json: field “%(field)s” must be text.", field=name))
    if len(value) > TEXT_LIMITS.get(name, 500):
        raise ManifestError(_l("module.json: field “%(field)s” is too long (at most %(n)s characters).",
                               field=name, n=TEXT_LIMITS.get(name, 500)))
    return value


def _http_url(data: dict, name: str) -> str:
    value = _text(data, name)
    if value and not re.match(r"^https?://[^\s]+$", value, re.IGNORECASE):
        raise ManifestError(_l("module.json: field “%(field)s” must be an http(s) address.", field=name))
    return value


def _specifier(value, name: str) -> SpecifierSet:
    if not isinstance(value, str):
        raise ManifestError(_l("module.json: field “%(field)s” must be a version specifier such as “>=1.0”.",
                               field=name))
    specifier = versions.parse_specifier(value)
    if specifier is None:
        raise ManifestError(_l("module.json: field “%(field)s” is not a valid version specifier: %(value)s.",
                               field=name, value=value[:60]))
    return specifier


def _settings(value) -> list[dict]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ManifestError(_l("module.json: field “settings” must be a list of fields."))
    seen = set()
    fields = []
    for index, item in enumerate(value):
        where = f"settings[{index}]"
        if not isinstance(item, dict):
            raise ManifestError(_l("module.json: field “%(field)s” must be an object.", field=where))
        key = item.get("key")
        if not isinstance(key, str) or not re.match(r"^[a-z][a-z0-9_]{0,63}$", key):
            raise ManifestError(_l("module.json: field “%(field)s.key” must be a lowercase name.", field=where))
        if key in seen:
            raise ManifestError(_l("module.json: field “%(field)s.key” repeats “%(key)s”.", field=where, key=key))
        seen.add(key)
        kind = item.get("type", "text")
        if kind not in SETTING_TYPES:
            raise ManifestError(_l("module.json: field “%(field)s.type” must be one of %(types)s.",
                                   field=where, types=", ".join(SETTING_TYPES)))
        if kind == "choice":
            choices = item.get("choices")
            if not isinstance(choices, list) or not choices or not all(isinstance(c, str) for c in choices):
                raise ManifestError(_l("module.json: field “%(field)s.choices” must be a list of text.",
                                       field=where))
        for bound in ("min", "max"):
            if bound in item and (not isinstance(item[bound], int) or isinstance(item[bound], bool)):
                raise ManifestError(_l("module.json: field “%(field)s.%(bound)s” must be a whole number.",
                                       field=where, bound=bound))
        fields.append(dict(item, type=kind))
    return fields


def coerce_setting(item: dict, value):
    """A stored value as the field's type says (a module updated to a new type still reads sane values)."""
    kind = item.get("type", "text")
    if value is None:
        return None
    if kind == "boolean":
        return value if isinstance(value, bool) else str(value).strip().lower() in TRUE_WORDS
    if kind == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        try:
            return int(str(value).strip())
        except ValueError:
            return item.get("default")
    return value if isinstance(value, str) else str(value)


def _menu(value) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ManifestError(_l("module.json: field “menu” must be an object."))
    menu = {}
    for key in ("label", "icon", "section"):
        if key in value:
            if not isinstance(value[key], str):
                raise ManifestError(_l("module.json: field “menu.%(key)s” must be text.", key=key))
            menu[key] = value[key][:40]
    if "icon" in menu and not re.match(r"^[a-z0-9-]{1,40}$", menu["icon"]):
        raise ManifestError(_l("module.json: field “menu.icon” must be an icon name such as “puzzle”."))
    return menu


def validate(data) -> Manifest:
    """Check a decoded manifest; unknown fields are kept in `raw`."""
    if not isinstance(data, dict):
        raise ManifestError(_l("module.json must hold a JSON object."))
    if _depth(data) > MAX_DEPTH:
        raise ManifestError(_l("module.json is nested too deeply."))
    for name in REQUIRED:
        if name not in data or data[name] in (None, ""):
            raise ManifestError(_l("module.json: required field “%(field)s” is missing.", field=name))
    slug = data["slug"]
    if not isinstance(slug, str) or not SLUG_RE.match(slug):
        raise ManifestError(_l("module.json: field “slug” must be 2 to 48 lowercase letters, digits or "
                               "underscores, starting with a letter."))
    if slug in RESERVED_SLUGS:
        raise ManifestError(_l("module.json: field “slug” uses the reserved name “%(slug)s”.", slug=slug))
    version = data["version"]
    if not isinstance(version, str):
        raise ManifestError(_l("module.json: field “version” must be text such as “1.2.0”."))
    parsed_version = versions.parse(version)
    if parsed_version is None:
        raise ManifestError(_l("module.json: field “version” is not a valid version: %(value)s.",
                               value=version[:60]))
    requires = data.get("requires") or {}
    if not isinstance(requires, dict):
        raise ManifestError(_l("module.json: field “requires” must map module names to version specifiers."))
    parsed_requires = {}
    for other, spec in requires.items():
        if not isinstance(other, str) or not SLUG_RE.match(other):
            raise ManifestError(_l("module.json: field “requires” names an invalid module: %(value)s.",
                                   value=str(other)[:60]))
        parsed_requires[other] = _specifier(spec or "", f"requires.{other}")
    name = _text(data, "name").strip()
    if not name:
        raise ManifestError(_l("module.json: required field “%(field)s” is missing.", field="name"))
    return Manifest(
        slug=slug,
        name=name,
        version=parsed_version,
        description=_text(data, "description"),
        author=_text(data, "author"),
        category=_text(data, "category"),
        homepage=_http_url(data, "homepage"),
        docs_url=_http_url(data, "docs_url"),
        requires_core=_specifier(data.get("requires_core") or "", "requires_core"),
        requires=parsed_requires,
        menu=_menu(data.get("menu")),
        settings=_settings(data.get("settings")),
        raw=data,
    )


def parse(raw: bytes) -> Manifest:
    if len(raw) > MAX_MANIFEST_BYTES:
        raise ManifestError(_l("module.json is larger than %(n)s KB.", n=MAX_MANIFEST_BYTES // 1024))
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ManifestError(_l("module.json is not valid JSON (%(reason)s).", reason=str(exc)[:80])) from None
    return validate(data)
