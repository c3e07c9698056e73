"""Module settings: a form generated from the manifest's `settings` fields, checked per type.

Values are stored typed (bool, int, str) in `module_settings`; the module reads them through
`api.settings`. A secret is never sent back to the browser: its field stays empty and an empty
submission keeps the saved value. The audit trail names what changed, with secrets masked.
"""

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..errors import FormError
from ..extensions import db
from ..manifest import TRUE_WORDS
from ..models import Module, ModuleSetting
from . import audit
from .form_values import last_value

TEXT_MAX = 2000
URL_MAX = 2000
EMAIL_MAX = 254
MASK = "••••••"
# Compiled by `re` on its first use (and kept in its cache): compiling it costs every worker 8 ms at start.
EMAIL_PATTERN = (r"^[^@\s<>\"(),;:\\\[\]]+@[A-Za-z0-9\u00a1-\uffff](?:[A-Za-z0-9\u00a1-\uffff.-]*[A-Za-z0-9\u00a1-\uffff])?"
                 r"\.[A-Za-z\u00a1-\uffff]{2,}$")
INTEGER_RE = re.compile(r"^[+-]?\d{1,18}$")


@dataclass
class SettingField:
    """One field of the settings form, ready for the template (foreign text is escaped there)."""

    key: str
    type: str
    label: str
    help: str
    value: object
    default: object
    required: bool = False
    choices: list[str] = field(default_factory=list)
    min: int | None = None
    max: int | None = None
    has_value: bool = False  # secrets: whether one is saved (the value itself never leaves the server)
    error: str = ""


def manifest_fields(module: Module) -> list[dict]:
    return [f for f in ((module.manifest or {}).get("settings") or []) if isinstance(f, dict) and f.get("key")]


def stored(slug: str) -> dict:
    return {row.key: row.value for row in db.session.scalars(select(ModuleSetting).where(ModuleSetting.slug == slug))}


def _bound(item: dict, name: str) -> int | None:
    value = item.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def fields(module: Module, submitted: dict | None = None, errors: dict | None = None) -> list[SettingField]:
    saved = stored(module.slug)
    submitted, errors = submitted or {}, errors or {}
    result = []
    for item in manifest_fields(module):
        key, kind = item["key"], item.get("type", "text")
        value = saved.get(key, item.get("default"))
        if key in submitted and kind != "secret":
            value = submitted[key]
        result.append(SettingField(
            key=key, type=kind, label=str(item.get("label") or key), help=str(item.get("help") or ""),
            value=None if kind == "secret" else value, default=None if kind == "secret" else item.get("default"),
            required=bool(item.get("required")), choices=[str(c) for c in item.get("choices") or []],
            min=_bound(item, "min"), max=_bound(item, "max"),
            has_value=kind == "secret" and bool(saved.get(key)), error=str(errors.get(key, "")),
        ))
    return result


def _integer(item: dict, text: str):
    low, high = _bound(item, "min"), _bound(item, "max")
    if not INTEGER_RE.match(text):
        if low is not None and high is not None:
            raise ValueError(_l("Enter a whole number from %(min)s to %(max)s.", min=low, max=high))
        raise ValueError(_l("Enter a whole number."))
    number = int(text)
    if low is not None and number < low or high is not None and number > high:
        if low is not None and high is not None:
            raise ValueError(_l("Enter a whole number from %(min)s to %(max)s.", min=low, max=high))
        if low is not None:
            raise ValueError(_l("Enter a whole number of at least %(min)s.", min=low))
        raise ValueError(_l("Enter a whole number of at most %(max)s.", max=high))
    return number


def _url(text: str) -> str:
    if len(text) > URL_MAX:
        raise ValueError(_l("The address is too long: at most %(n)s characters.", n=URL_MAX))
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 — raises on a malformed port
    except ValueError:
        raise ValueError(_l("Enter an address that starts with http:// or https://.")) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or re.search(r"\s", text):
        raise ValueError(_l("Enter an address that starts with http:// or https://."))
    return text


def _email(text: str) -> str:
    if len(text) > EMAIL_MAX or not re.match(EMAIL_PATTERN, text):
        raise ValueError(_l("Enter an email address such as name@example.org."))
    return text


def _check(item: dict, raw, saved_value) -> tuple[bool, object]:
    """(changed?, typed value) for one posted field; raises ValueError with the field's message."""
    kind = item.get("type", "text")
    required = bool(item.get("required"))
    if kind == "boolean":
        return True, str(raw).strip().lower() in TRUE_WORDS
    text = str(raw)
    if kind in ("integer", "choice", "url", "email"):
        text = text.strip()
    if kind == "secret":
        if text == "":
            if required and not saved_value:
                raise ValueError(_l("This field is required."))
            return False, None  # leave empty to keep
        if len(text) > TEXT_MAX:
            raise ValueError(_l("At most %(n)s characters.", n=TEXT_MAX))
        return True, text
    if text == "" and kind != "choice":
        if required:
            raise ValueError(_l("This field is required."))
        if kind == "integer":
            default = item.get("default")
            if isinstance(default, int) and not isinstance(default, bool):
                return True, default
            return True, None
        return True, "" if kind == "text" else None
    if kind == "integer":
        return True, _integer(item, text)
    if kind == "choice":
        choices = [str(c) for c in item.get("choices") or []]
        if text not in choices:
            raise ValueError(_l("Choose one of the offered values."))
        return True, text
    if kind == "url":
        return True, _url(text)
    if kind == "email":
        return True, _email(text)
    if len(text) > TEXT_MAX:
        raise ValueError(_l("At most %(n)s characters.", n=TEXT_MAX))
    return True, text


def parse(module: Module, form) -> dict:
    """The posted values that change something, typed; FormError names each refused field.

    A field that is absent from the post keeps its value; an empty secret keeps it too, unless
    its "remove" box (`<key>__clear`) is ticked.
    """
    saved = stored(module.slug)
    values, errors, typed = {}, {}, {}
    for item in manifest_fields(module):
        key = item["key"]
        raw = last_value(form, key)
        if item.get("type") == "secret" and str(last_value(form, f"{key}__clear") or "").lower() in TRUE_WORDS \
                and not raw:
            if item.get("required"):
                errors[key] = _l("This field is required.")
            else:
                values[key] = None
            continue
        if raw is None:
            continue
        if item.get("type") != "secret":
            typed[key] = str(raw)[:TEXT_MAX + 10] if item.get("type") != "boolean" else \
                str(raw).strip().lower() in TRUE_WORDS
        try:
            changed, value = _check(item, raw, saved.get(key))
        except ValueError as exc:
            errors[key] = exc.args[0]
            continue
        if changed:
            values[key] = value
    if errors:
        raise SettingsFormError(errors, typed)
    return values


class SettingsFormError(FormError):
    """Refused module settings, with what was typed."""


def effective(module: Module) -> dict:
    saved = stored(module.slug)
    return {item["key"]: saved.get(item["key"], item.get("default")) for item in manifest_fields(module)}


def save(module: Module, form, actor: str) -> list[str]:
    """Validate and store; returns the keys that changed (recorded in the audit trail, secrets masked)."""
    values = parse(module, form)
    kinds = {item["key"]: item.get("type", "text") for item in manifest_fields(module)}
    before = effective(module)
    rows = {row.key: row for row in db.session.scalars(select(ModuleSetting).where(ModuleSetting.slug == module.slug))}
    changed = []
    for key, value in values.items():
        if before.get(key) == value:
            continue
        row = rows.get(key)
        if row is None:
            db.session.add(ModuleSetting(slug=module.slug, key=key, value=value))
        else:
            row.value = value
        changed.append(key)
    if changed:
        audit.record(actor, "settings_changed", module.slug, "; ".join(
            _describe(key, kinds[key], before.get(key), values[key]) for key in changed))
    db.session.commit()
    return changed


def _describe(key: str, kind: str, old, new) -> str:
    if kind == "secret":
        return f"{key}: {MASK} ({'removed' if not new else 'changed'})"
    return f"{key}: {_short(old)} → {_short(new)}"


def _short(value) -> str:
    text = "—" if value is None else str(value)
    return text if len(text) <= 60 else text[:59] + "…"
