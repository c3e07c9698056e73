"""Paid modules whose entitlement ended are disabled, checked against the clock on each request
(no network): the reason goes on the module's card, its data and settings are kept.

The check is cheap: per process it remembers, for the token and catalog it last saw, the next
moment anything in the token ends; until then a request only compares that moment with the clock.
"""

import threading
from datetime import datetime, timezone

from flask import current_app
from sqlalchemy import select, update

from ..errors import Conflict
from ..extensions import db
from ..licensing import token
from ..marketplace import catalog
from ..models import Module, utcnow
from ..runtime.registry import bump_generation
from . import audit, licenses, modules

NEVER = datetime.max.replace(tzinfo=timezone.utc)
ACTOR = "license"

_checked: dict[str, tuple] = {}  # database -> (what was checked, the next moment something ends)
_lock = threading.Lock()


def next_end(claims: dict | None, moment: datetime) -> datetime:
    """The first moment after `moment` at which an entitlement of the token ends (or it must be refreshed)."""
    ends = [token.parse_time((claims or {}).get("refresh_by"))]
    ends += [token.parse_time(entry.get("until")) for entry in ((claims or {}).get("modules") or {}).values()
             if isinstance(entry, dict)]
    return min((end for end in ends if end is not None and end > moment), default=NEVER)


def _stop(slug: str, reason: str) -> None:
    """Disable `slug` (its disable hook runs, its data and settings stay) with `reason` on its card."""
    try:
        modules.disable(slug, ACTOR)
    except Conflict:  # enabled modules need it: the license still ends, they lose it like any dependency
        db.session.rollback()
        record = modules.read(slug)
        modules.write(record, state="disabled", updated_at=utcnow())
        bump_generation()
        db.session.commit()
        modules.registry().drop(slug)
    db.session.execute(update(Module).where(Module.slug == slug).values(error=reason[:1000]))
    audit.record(ACTOR, "license_ended", slug, reason)
    db.session.commit()


def enforce(moment: datetime | None = None) -> list[str]:
    """Disable every enabled paid module the license no longer entitles; the slugs disabled."""
    moment = moment or licenses.now()
    found = licenses.current()
    if not found.verifiable:  # this node cannot check the token yet: never disable on that account
        return []
    shown = catalog.current_catalog()
    slot = current_app.config["SQLALCHEMY_DATABASE_URI"]
    seen = (found.token, found.installation_id, shown.fetched_at, shown.source_url)
    with _lock:
        last = _checked.get(slot)
    if last is not None and last[0] == seen and moment < last[1]:
        return []
    paid = sorted(licenses.paid_slugs())
    enabled = db.session.scalars(select(Module.slug).where(Module.state == "enabled", Module.slug.in_(paid))).all() \
        if paid else []
    stopped = []
    for slug in enabled:
        granted = token.entitlement(found.claims, slug, moment)
        if not granted.active:
            _stop(slug, licenses.explain(granted))
            stopped.append(slug)
    with _lock:
        _checked[slot] = (seen, next_end(found.claims, moment))
    return stopped


def forget() -> None:
    """Check again on the next request (tests, and after the catalog or the license changed)."""
    with _lock:
        _checked.clear()
