"""`/modules` and every action that changes one module: enable, disable, uninstall, roll back."""

import re

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from .. import installer
from ..services import dependencies, modules
from ..ui.cards import card_with_sidebar_html, module_list_context
from ..ui.rendering import page_or_fragment
from ..ui.sidebar import sidebar_html

bp = Blueprint("modules", __name__, url_prefix="/modules")


@bp.get("")
def index():
    modules.discover_if_changed(current_user.username)
    page = request.args.get("page", "1")
    context = module_list_context(request.args.get("q", "")[:100], request.args.get("state", ""),
                                  int(page) if re.fullmatch(r"[1-9][0-9]{0,5}", page) else 1)
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


def _back_to_list(message: str, template: str, context: dict):
    """After an uninstall or a rollback: the fragment htmx swaps in, or the list with a toast."""
    if request.htmx:
        return render_template(template, **context, message=message, category="success")
    flash(message, "success")
    return redirect(url_for("modules.index"), 303)


@bp.post("/<slug>/enable")
def enable(slug):
    module = modules.enable(slug, current_user.username)
    return card_with_sidebar(module)


@bp.post("/<slug>/disable")
def disable(slug):
    module = modules.disable(slug, current_user.username)
    return card_with_sidebar(module)


@bp.get("/<slug>/uninstall")
def confirm_uninstall(slug):
    module = modules.get(slug)
    dependants = [m.name for m in dependencies.dependants(module.slug)]
    return render_template("upload/uninstall.html", module=module, dependants=dependants)


@bp.post("/<slug>/uninstall")
def uninstall(slug):
    name = modules.get(slug).name
    delete_data = request.form.get("delete_data") in ("1", "on", "true", "yes")
    installer.uninstall(slug, current_user.username, delete_data=delete_data)
    message = (gettext("%(name)s was uninstalled and its data deleted.", name=name) if delete_data
               else gettext("%(name)s was uninstalled; its data was kept.", name=name))
    return _back_to_list(message, "upload/_removed.html", {"fragments": sidebar_html(oob=True)})


@bp.post("/<slug>/rollback")
def rollback(slug):
    before = modules.get(slug).version
    module = installer.rollback(slug, current_user.username)
    message = gettext("%(name)s went from %(old)s back to %(new)s.", name=module.name, old=before,
                      new=module.version)
    return _back_to_list(message, "upload/_card_result.html", {"fragments": card_with_sidebar_html(module)})
