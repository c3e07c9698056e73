"""`/modules` and every action that changes one module: enable, disable, uninstall, roll back."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from .. import installer, presenters
from ..card_fragments import card_and_sidebar_html
from ..services import dependencies, modules
from .rendering import page_or_fragment

bp = Blueprint("modules", __name__, url_prefix="/modules")


@bp.get("")
def index():
    modules.discover(current_user.username)
    context = presenters.module_list_context(request.args.get("q", "")[:100], request.args.get("state", ""))
    return page_or_fragment("modules/index.html", "partials/module_list.html", **context)


def card_with_sidebar(module):
    """A toggle's answer: the card, plus the sidebar out of band. Nothing more.

    Without htmx (a plain form post) the browser goes back to the list instead.
    """
    if not request.htmx:
        if module.state == "failed":
            flash(module.error or "", "danger")
        return redirect(url_for("modules.index"))
    # The same as rendering partials/card_and_sidebar.html, without a template around two cached
    # fragments: this answer is the panel's most frequent one.
    return card_and_sidebar_html(**presenters.card_context(module), **presenters.sidebar_context())


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
    return _back_to_list(message, "upload/_removed.html", presenters.sidebar_context())


@bp.post("/<slug>/rollback")
def rollback(slug):
    before = modules.get(slug).version
    module = installer.rollback(slug, current_user.username)
    message = gettext("%(name)s went from %(old)s back to %(new)s.", name=module.name, old=before,
                      new=module.version)
    return _back_to_list(message, "upload/_card_result.html",
                         {**presenters.card_context(module), **presenters.sidebar_context()})
