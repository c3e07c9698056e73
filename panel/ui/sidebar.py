"""The sidebar as HTML: every render of it goes through `sidebar_html`.

Outside its edit mode the sidebar is on every page and in every toggle's answer, so that HTML is
rendered once and reused while the sidebar as built from the database (`services.sidebar.build`,
frozen values) and the request's language and URL root stay the same.
"""

from flask import render_template
from markupsafe import Markup

from ..services import sidebar
from .fragments import FragmentCache, request_key, token_marker, with_token

MAX_SIDEBARS = 64

_sidebars = FragmentCache(MAX_SIDEBARS)


def sidebar_html(oob: bool = False, edit: bool = False, focus: str = "") -> Markup:
    """The sidebar; `oob` swaps it out of band, `edit` is its edit mode (with `focus`, the
    "<slug>:<up|down>" button to keep focused), which is rendered afresh each time."""
    if edit:
        return Markup(render_template("layout/_sidebar.html", sidebar=sidebar.build(edit=True), edit=True,
                                      oob=oob, focus=focus))
    built = sidebar.build()
    html = _sidebars.get_or_render(
        (built, oob, request_key()),
        lambda: render_template("layout/_sidebar.html", sidebar=built, oob=oob, csrf_token=token_marker))
    return with_token(html)


def fragment_with_sidebar(template: str, **context) -> Markup:
    """A fragment, and the sidebar out of band (the fragment changed what the sidebar shows)."""
    return Markup(render_template(template, **context)) + sidebar_html(oob=True)
