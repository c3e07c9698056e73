"""`/modules/<slug>/settings` and `/modules/<slug>/display`: a module's settings form and its display
options (sidebar entry), two tabs of one page."""

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from ..extensions import db
from ..marketplace import updates
from ..services import display, modules, settings
from ..ui.forms import display_form_context, settings_form_context
from ..ui.rendering import wants_fragment
from ..ui.sidebar import fragment_with_sidebar
from ..versions import is_valid, normalized

bp = Blueprint("settings", __name__)
TABS = ("settings", "display")


def settings_page(module, status=200, tab="settings", settings_context=None, display_context=None):
    """The full page: both forms, `tab` open."""
    context = {
        "module": module,
        "tab": tab if tab in TABS else "settings",
        **(settings_context or settings_form_context(module)),
        **(display_context or display_form_context(module)),
        "policy": updates.policy(module.slug),
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


# --- display options: the module's sidebar entry ------------------------------------------------

def _display_answer(module, status=200, **form_options):
    """The display form (in the settings page when not htmx) plus the sidebar out of band."""
    context = display_form_context(module, **form_options)
    if wants_fragment():
        return make_response(fragment_with_sidebar("settings/_display_form.html", **context), status)
    return settings_page(module, status=status, tab="display", display_context=context)


@bp.get("/modules/<slug>/display")
def display_form(slug):
    module = modules.get(slug)
    if wants_fragment():
        template = "settings/_display_dialog.html" if request.args.get("dialog") else "settings/_display_form.html"
        return render_template(template, **display_form_context(module))
    return redirect(url_for("settings.page", slug=module.slug, tab="display"))


@bp.post("/modules/<slug>/display")
def display_save(slug):
    module = modules.get(slug)
    try:
        module = display.save(module, request.form, current_user.username)
    except display.DisplayFormError as exc:
        db.session.rollback()
        return _display_answer(modules.get(slug), 422, submitted=exc.submitted, errors=exc.errors)
    if not wants_fragment():
        flash(gettext("The sidebar entry is saved."), "success")
        return redirect(url_for("settings.page", slug=module.slug, tab="display"))
    return _display_answer(module, saved=True)


@bp.post("/modules/<slug>/display/reset")
def display_reset(slug):
    module = display.reset(slug, current_user.username)
    if not wants_fragment():
        flash(gettext("The sidebar entry is back to the module's defaults."), "success")
        return redirect(url_for("settings.page", slug=module.slug, tab="display"))
    return _display_answer(module, saved=True)


@bp.post("/modules/<slug>/updates")
def update_policy(slug):
    """Hold, skip a version, update automatically (issue 11)."""
    module = modules.get(slug)
    skipped = (request.form.get("skipped_version") or "").strip()[:64]
    status, error, saved = 200, None, False
    if skipped and not is_valid(skipped):
        status, error = 422, gettext("“%(version)s” is not a version number.", version=skipped)
    else:
        updates.set_policy(slug, current_user.username, pinned=bool(request.form.get("pinned")),
                           auto_update=bool(request.form.get("auto_update")),
                           skipped_version=normalized(skipped) if skipped else None)
        saved = True
    if not wants_fragment():
        if error:
            flash(error, "danger")
        return redirect(url_for("settings.page", slug=slug))
    return make_response(render_template("settings/_updates_form.html", module=module, policy=updates.policy(slug),
                                         saved=saved, error=error), status)
