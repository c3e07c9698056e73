"""Installed modules: the list, and switching each on and off."""

from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user

from ..services import modules
from ..ui.cards import card_with_sidebar_html, module_list_context
from ..ui.rendering import page_or_fragment

bp = Blueprint("modules", __name__, url_prefix="/modules")


@bp.get("")
def index():
    modules.discover(current_user.username)
    context = module_list_context(request.args.get("q", "")[:100], request.args.get("state", ""))
    return page_or_fragment("modules/index.html", "modules/_list.html", **context)


def card_with_sidebar(module):
    """A toggle's answer: the card, plus the sidebar out of band. Nothing more.

    Without htmx (a plain form post) the browser goes back to the list instead.
    """
    if not request.htmx:
        if module.state == "failed":
            flash(module.error or "", "danger")
        return redirect(url_for("modules.index"))
    # Two cached fragments, without a template around them: this answer is the panel's most frequent one.
    return card_with_sidebar_html(module)


@bp.post("/<slug>/enable")
def enable(slug):
    module = modules.enable(slug, current_user.username)
    return card_with_sidebar(module)


@bp.post("/<slug>/disable")
def disable(slug):
    module = modules.disable(slug, current_user.username)
    return card_with_sidebar(module)
