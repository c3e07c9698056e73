"""The error pages every area shares: one sentence, as a page or an htmx fragment, never a traceback."""

import logging

from flask import Blueprint
from flask_babel import gettext
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from ..errors import PanelError
from ..extensions import db
from .rendering import error_response

log = logging.getLogger(__name__)
bp = Blueprint("error_pages", __name__)


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


@bp.app_errorhandler(Exception)
def unexpected_error(exc):
    db.session.rollback()
    log.exception("unexpected error")
    return error_response(gettext("Something went wrong on the server; the error has been logged."), 500)
