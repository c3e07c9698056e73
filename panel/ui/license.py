"""What the license looks like on pages: the /license page, the dashboard widget, and the
paid/free, trial and owned marks of marketplace and installed cards."""

from datetime import timedelta
from functools import lru_cache

from flask import has_request_context, url_for
from flask_babel import format_timedelta, gettext, ngettext

from ..licensing import token
from ..marketplace import catalog
from ..marketplace.licenses import REASONS, REFRESH_EVERY
from ..models import utcnow
from ..services import licenses
from .fragments import request_key, request_token

ENDING_SOON = timedelta(days=3)


def _name(slug: str) -> str:
    entry = catalog.entry(slug)
    return entry["name"] if entry else slug


def badge(slug: str) -> tuple[str, str] | None:
    """(kind, text) for a paid module: ("trial", "Trial: 14 days left"), ("owned", …), ("ended", …),
    ("none", "") when the license does not include it; None for a free module."""
    granted = licenses.entitlement(slug)
    if granted is None:
        return None
    if granted.active and granted.kind == "trial":
        return "trial", _words("trial", granted.days_left(licenses.now()))
    if granted.active:
        return "owned", _words("owned", granted.until)
    if granted.reason == "not_licensed":
        return "none", ""
    return "ended", licenses.explain(granted)


def _words(kind: str, value) -> str:
    if not has_request_context():
        return _badge_words.__wrapped__("", kind, value)
    return _badge_words(request_key()[0], kind, value)


# Every card of a paid module shows a badge, and a toggle's answer its card's: a badge's words are
# looked up once per language and value. Through Flask-Babel each lookup (the date's too) built the
# request's locale first, about a sixth of a paid module's toggle.
@lru_cache(maxsize=1024)
def _badge_words(language: str, kind: str, value) -> str:
    """The words of a trial's badge (`value`: the days left) or an owned module's (`value`: the end, or
    None), in this request's language, which `language` names (the key: gettext follows the request)."""
    if kind == "trial":
        return ngettext("Trial: %(num)s day left", "Trial: %(num)s days left", value)
    return gettext("Owned until %(date)s", date=licenses.day(value)) if value else gettext("Owned")


def buy_url(entry: dict) -> str:
    return entry.get("homepage") or catalog.store_url()


def marketplace_license(entry: dict) -> dict | None:
    """A marketplace card's license part: the badge, and whether to offer a trial and the Buy link."""
    if not entry.get("paid"):
        return None
    kind, text = badge(entry["slug"]) or ("none", "")
    return {"kind": kind, "text": text, "buy_url": buy_url(entry),
            "trial_days": entry.get("trial_days") or 0,
            "can_try": kind == "none" and bool(entry.get("trial_days")),
            "trial_url": url_for("license.trial", slug=entry["slug"])}


def _since(moment) -> str:
    return format_timedelta(moment - utcnow(), add_direction=True) if moment else ""


def _rows(view: licenses.License) -> tuple[list[dict], list[dict]]:
    """(owned and coupon modules, trials), each with its end and days left."""
    moment = licenses.now()
    owned, trials = [], []
    for slug in sorted(((view.claims or {}).get("modules") or {})):
        granted = token.entitlement(view.claims, slug, moment)
        row = {"slug": slug, "name": _name(slug), "kind": granted.kind, "active": granted.active,
               "until": licenses.day(granted.until), "updates_until": licenses.day(granted.updates_until),
               "days_left": granted.days_left(moment), "message": licenses.explain(granted)}
        (trials if granted.kind == "trial" else owned).append(row)
    return owned, trials


def status_sentences(view: licenses.License) -> dict:
    """The license's state in words: checked how long ago, the last failure, an overdue refresh."""
    last_error = str(REASONS.get(view.last_error, "")) if view.last_error else ""
    refresh_by = view.refresh_by
    overdue = bool(refresh_by and licenses.now() >= refresh_by)
    stale = bool(view.checked_at and utcnow() - view.checked_at >= REFRESH_EVERY)
    return {"checked_since": _since(view.checked_at), "last_error": last_error, "overdue": overdue,
            "stale": stale or bool(last_error), "refresh_by": licenses.day(refresh_by)}


def license_context(key_error: str = "", key_value: str = "", coupon_error: str = "", coupon_value: str = "") -> dict:
    view = licenses.current()
    installation = licenses.installation_id()
    owned, trials = _rows(view)
    return {"license": view, "installation_id": installation, "owned": owned, "trials": trials,
            **status_sentences(view), "key_error": key_error, "key_value": key_value or (view.key or ""),
            "coupon_error": coupon_error, "coupon_value": coupon_value, "csrf": request_token()}


def dashboard_license_context() -> dict:
    """The dashboard's license widget: the state, and trials ending within three days."""
    view = licenses.current()
    _owned, trials = _rows(view)
    ending = [row for row in trials if row["active"] and row["days_left"] is not None
              and row["days_left"] <= ENDING_SOON.days]
    return {"license": view, "trials_ending": ending, **status_sentences(view)}
