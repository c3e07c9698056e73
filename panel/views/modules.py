"""`/modules` and every action that changes one module: enable, disable, uninstall, roll back."""

import re

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user
from markupsafe import Markup

from .. import installer
from ..errors import Conflict
from ..marketplace import plan_runs
from ..services import modules
from ..ui.cards import card_html, card_oob_html, card_with_sidebar_html, counts_html, module_list_context
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


def _dependency_dialog(slug: str, others: list, action: str):
    """Instead of the card: the dialog offering to switch the others too, appended to the page."""
    response = make_response(render_template(
        "modules/_dependency_dialog.html", module=modules.get(slug), others=others, action=action,
        url=url_for(f"modules.{action}", slug=slug), field="with_others"))
    response.headers["HX-Retarget"], response.headers["HX-Reswap"] = "body", "beforeend"
    return response


def _with_others(module, others: list):
    """The toggled card with the sidebar, and the cards of the others switched with it, out of band."""
    if not request.htmx:
        return card_with_sidebar(module)
    # Several entries changed: the whole sidebar out of band (a rare answer; a toggle sends one entry).
    return (card_html(module) + sidebar_html(oob=True) + counts_html(oob=True)
            + Markup().join(card_oob_html(modules.read(slug)) for slug in others))


@bp.post("/<slug>/enable")
def enable(slug):
    user = current_user.username
    if request.form.get("with_others"):
        others = [step.slug for step in plan_runs.disabled_dependencies(slug)]
        for other in others:
            if modules.enable(other, user).state != "enabled":
                break  # its card says why; enabling this one then says what is missing
        return _with_others(modules.enable(slug, user), others)
    try:
        module = modules.enable(slug, user)
    except Conflict:
        needed = plan_runs.disabled_dependencies(slug) if request.htmx else []
        if not needed:
            raise
        return _dependency_dialog(slug, [step.name for step in needed], "enable")
    return card_with_sidebar(module)


@bp.post("/<slug>/disable")
def disable(slug):
    user = current_user.username
    if request.form.get("with_others"):
        others = [row.slug for row in plan_runs.all_dependants(slug)]
        for other in others:
            modules.disable(other, user)
        return _with_others(modules.disable(slug, user), others)
    try:
        module = modules.disable(slug, user)
    except Conflict:
        if not request.htmx:
            raise
        return _dependency_dialog(slug, [row.name for row in plan_runs.all_dependants(slug)], "disable")
    return card_with_sidebar(module)


@bp.get("/<slug>/uninstall")
def confirm_uninstall(slug):
    module = modules.get(slug)
    dependants = [m.name for m in plan_runs.all_dependants(module.slug)]
    return render_template("upload/uninstall.html", module=module, dependants=dependants)


@bp.post("/<slug>/uninstall")
def uninstall(slug):
    name = modules.get(slug).name
    if request.form.get("disable_dependants"):  # offered by the confirmation page when others need it
        for row in plan_runs.all_dependants(slug):
            modules.disable(row.slug, current_user.username)
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
