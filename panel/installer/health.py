"""After an update: does the new version load and answer its entry page? If not, go back.

The check loads the installed code afresh and, when the module is enabled (its pages are served
only then), requests its `/` page on the server side, as `views/module_pages.py` would. An import
error, a raising `setup`, a raising view or a 5xx answer fails it. Going back is `rollback`, which
swaps the kept version in and runs only the kept code: it never depends on the new version.
"""

from __future__ import annotations

import logging

from flask import current_app, make_response
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

from ..extensions import db
from ..models import Module
from ..runtime.registry import LoadError, bump_code_generation, describe
from ..services import audit
from . import activation
from .rolling_back import rollback

log = logging.getLogger(__name__)


def problem(slug: str) -> str | None:
    """Why the installed version of `slug` is unhealthy, in one sentence; None when it is fine."""
    module = db.session.get(Module, slug, populate_existing=True)
    if module is None:
        return None
    if module.state == "failed":
        return module.error or str(_l("The module failed to load."))
    reg = activation.registry()
    try:
        loaded = reg.get(slug) if module.state == "enabled" else reg.load(module)
        if loaded is None:
            loaded = reg.load(module)
    except LoadError as exc:
        return str(exc)
    if module.state != "enabled":
        return None
    adapter = loaded.api.url_map.bind("", script_name=f"/m/{slug}")
    with current_app.test_request_context(f"/m/{slug}/"):
        try:
            endpoint, args = adapter.match("/", method="GET")
        except HTTPException:
            return None  # no entry page: loading was the whole check
        try:
            status = make_response(loaded.api.views[endpoint](**args)).status_code
        except HTTPException as exc:
            status = exc.code or 500
        except Exception as exc:  # noqa: BLE001 — module code is untrusted
            return str(_l("Its page raised an error: %(error)s", error=describe(exc)))
    if status >= 500:
        return str(_l("Its page answered with a server error (%(status)s).", status=status))
    return None


def check_or_roll_back(slug: str, actor: str, new_version: str) -> str | None:
    """Check the version just installed; when unhealthy, roll back and note why on the card and in
    the audit trail. The reason (None when healthy)."""
    reason = problem(slug)
    if reason is None:
        return None
    db.session.rollback()
    log.warning("health check of %s %s failed: %s", slug, new_version, reason)
    rollback(slug, actor)
    module = db.session.get(Module, slug, populate_existing=True)
    message = str(_l("Version %(version)s failed its health check and was rolled back: %(reason)s",
                     version=new_version, reason=reason))[:1000]
    module.error = message
    audit.record(actor, "health_check_failed", slug, f"{new_version}: {reason}"[:1000])
    bump_code_generation()
    db.session.commit()
    return reason
