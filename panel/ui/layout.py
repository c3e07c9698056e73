"""The parts of every page's layout that are the same from one request to the next: what the head
loads, and the top bar. Rendered once per language, URL root (and, for the top bar, user and page)
and reused, with the request's CSRF token put in on the way out: a page then renders only its own
content and the sidebar."""

from flask import render_template, request
from flask_login import current_user
from markupsafe import Markup

from .fragments import FragmentCache, request_key, token_marker, with_token

MAX_HEADERS = 256

_assets = FragmentCache(16)
_headers = FragmentCache(MAX_HEADERS)


def layout_assets() -> Markup:
    """The stylesheets, scripts, icon and htmx settings of the head."""
    return Markup(_assets.get_or_render(request_key(), lambda: render_template("layout/_assets.html")))


def layout_header() -> Markup:
    """The top bar: brand, language switch (which comes back to this page), account and sign-out."""
    user = current_user.username if current_user.is_authenticated else None
    back_to = request.full_path if request.method == "GET" else "/"
    html = _headers.get_or_render((request_key(), user, back_to),
                                  lambda: render_template("layout/_header.html", csrf_token=token_marker))
    return with_token(html)
