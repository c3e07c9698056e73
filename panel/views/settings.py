"""`/modules/<slug>/settings`: the module's settings form and its display options, on one page."""

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from ..extensions import db
from ..services import modules, settings
from ..ui.forms import display_form_context, settings_form_context
from ..ui.rendering import wants_fragment

bp = Blueprint("settings", __name__)
TABS = ("settings", "display")


def settings_page(module, status=200, tab="settings", settings_context=None, display_context=None):
    """The full page: both forms, `tab` open."""
    context = {
        "module": module,
        "tab": tab if tab in TABS else "settings",
        **(settings_context or settings_form_context(module)),
        **(display_context or display_form_context(module)),
    }
    return make_response(render_template("settings/page.html", **context), status)


@bp.get("/modules/<slug>/settings")
def page(slug):
    module = modules.get(slug)
    if wants_fragment():
        return render_template("settings/_form.html", **settings_form_context(module))
    return settings_page(module, tab=request.args.get("tab", "settings"))


@bp.post("/modules/<slug>/settings")
def save(slug):
    module = modules.get(slug)
    try:
        settings.save(module, request.form, current_user.username)
    except settings.SettingsFormError as exc:
        db.session.rollback()
        module = modules.get(slug)
        context = settings_form_context(module, submitted=exc.submitted, errors=exc.errors)
        if wants_fragment():
            return make_response(render_template("settings/_form.html", **context), 422)
        return settings_page(module, 422, settings_context=context)
    if wants_fragment():
        return render_template("settings/_form.html", **settings_form_context(module, saved=True))
    flash(gettext("Settings saved."), "success")
    return redirect(url_for("settings.page", slug=module.slug))
