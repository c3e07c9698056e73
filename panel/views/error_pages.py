"""The error pages every area shares: one sentence, as a page or an htmx fragment, never a traceback."""

import logging

from flask import Blueprint, request
from flask_babel import gettext
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from ..errors import PanelError
from ..extensions import db
from ..ui.rendering import error_response

log = logging.getLogger(__name__)
bp = Blueprint("error_pages", __name__)


def _has_nul(values) -> bool:
    return any("\x00" in value for _, items in values for value in items if isinstance(value, str))


@bp.before_app_request
def refuse_nul_characters():
    """No text the panel keeps may hold a NUL: PostgreSQL cannot store one, and no form needs it."""
    if ("\x00" in request.path or _has_nul(request.args.lists())
            or (request.method == "POST" and _has_nul(request.form.lists()))):
        return error_response(gettext("The request contains a NUL character, which the panel does not accept."), 400)
    return None


@bp.app_errorhandler(PanelError)
def panel_error(exc):
    db.session.rollback()
    return error_response(exc.message, exc.status)


@bp.app_errorhandler(CSRFError)
def csrf_error(exc):
    return error_response(gettext("This form has expired or lacks its security token; "
                                  "reload the page and try again."), 400)


@bp.app_errorhandler(HTTPException)
def http_error(exc):
    messages = {
        404: gettext("This page does not exist."),
        405: gettext("This action is not allowed here."),
        413: gettext("The upload is larger than the panel accepts."),
    }
    return error_response(messages.get(exc.code, exc.description), exc.code or 500)


def is_busy(exc: OperationalError) -> bool:
    """Another writer held the lock past the busy time-out (SQLite), or a lock wait ran out (PostgreSQL)."""
    text = str(exc.orig).lower()
    return "database is locked" in text or "lock timeout" in text or "could not obtain lock" in text


@bp.app_errorhandler(OperationalError)
def database_error(exc):
    db.session.rollback()
    if not is_busy(exc):
        return unexpected_error(exc)
    log.warning("database busy: %s", exc.orig)
    response = error_response(gettext("The panel is busy; try again in a moment."), 503)
    response.headers["Retry-After"] = "5"
    return response


@bp.app_errorhandler(Exception)
def unexpected_error(exc):
    db.session.rollback()
    log.exception("unexpected error")
    return error_response(gettext("Something went wrong on the server; the error has been logged."), 500)
