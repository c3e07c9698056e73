"""Blueprints, one per area, and the error pages every area shares."""

import logging

from flask_babel import gettext
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from ..errors import PanelError
from ..extensions import db
from ..ui.rendering import error_response

log = logging.getLogger(__name__)


# One area a line: `panel/views/<name>.py` defines `bp`.
BLUEPRINTS = [
    "assets",
    "auth",
    "dashboard",
    "modules",
    "module_pages",
    "display", "settings",
    "upload",
    "marketplace", "jobs",
]


def register_blueprints(app) -> None:
    import importlib

    for name in BLUEPRINTS:
        app.register_blueprint(importlib.import_module(f"{__name__}.{name}").bp)

    @app.errorhandler(PanelError)
    def panel_error(exc):
        db.session.rollback()
        return error_response(exc.message, exc.status)

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return error_response(gettext("This form has expired or lacks its security token; "
                                      "reload the page and try again."), 400)

    @app.errorhandler(HTTPException)
    def http_error(exc):
        messages = {
            404: gettext("This page does not exist."),
            405: gettext("This action is not allowed here."),
            413: gettext("The upload is larger than the panel accepts."),
        }
        return error_response(messages.get(exc.code, exc.description), exc.code or 500)

    @app.errorhandler(Exception)
    def unexpected_error(exc):
        db.session.rollback()
        log.exception("unexpected error")
        return error_response(gettext("Something went wrong on the server; the error has been logged."), 500)
