"""Page or fragment: one URL serves both, decided from htmx's request headers."""

import logging

from flask import make_response, render_template, request
from flask_babel import gettext

from .page_shells import page_shells

log = logging.getLogger(__name__)


def wants_fragment() -> bool:
    """An htmx request that is neither boosted nor a history restore wants only the fragment."""
    hx = request.htmx
    return bool(hx) and not hx.boosted and not hx.history_restore_request


def page_or_fragment(page: str, fragment: str, status: int = 200, **context):
    """`context` comes whole from the page's builder: the page is kept and reused while it is the same."""
    template = fragment if wants_fragment() else page
    return make_response(page_shells().render(template, context), status)


def toast(message, category: str = "success", status: int = 200):
    """A result message; on htmx requests it lands in the toast area whatever the target was."""
    html = render_template("layout/_toast.html", message=str(message), category=category)
    response = make_response(html, status)
    if request.htmx:
        response.headers["HX-Retarget"] = "#toasts"
        response.headers["HX-Reswap"] = "beforeend"
    return response


def error_response(message, status: int):
    if request.htmx:
        return toast(message, "danger", status)
    try:
        html = render_template("layout/error.html", message=str(message), status=status, title=gettext("Error"))
    except Exception:  # noqa: BLE001 — the error page itself must never fail
        log.exception("error page failed to render")
        return make_response(str(message), status, {"Content-Type": "text/plain; charset=utf-8"})
    return make_response(html, status)
