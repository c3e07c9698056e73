"""Sidebar quick access: a module's display options, the sidebar's edit mode, menu sections."""

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext
from flask_login import current_user

from ..errors import FormError
from ..extensions import db
from ..services import display, modules, sections
from ..ui.forms import display_form_context, sections_context
from ..ui.rendering import page_or_fragment, wants_fragment
from ..ui.sidebar import fragment_with_sidebar, sidebar_html

bp = Blueprint("display", __name__)


def _display_answer(module, status=200, **form_options):
    """The display form (in the settings page when not htmx) plus the sidebar out of band."""
    context = display_form_context(module, **form_options)
    if wants_fragment():
        html = fragment_with_sidebar("settings/_display_form.html", **context)
        return make_response(html, status)
    from .settings import settings_page

    return settings_page(module, status=status, tab="display", display_context=context)


@bp.get("/modules/<slug>/display")
def form(slug):
    module = modules.get(slug)
    if wants_fragment():
        template = "settings/_display_dialog.html" if request.args.get("dialog") else "settings/_display_form.html"
        return render_template(template, **display_form_context(module))
    return redirect(url_for("settings.page", slug=module.slug, tab="display"))


@bp.post("/modules/<slug>/display")
def save(slug):
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
def reset(slug):
    module = display.reset(slug, current_user.username)
    if not wants_fragment():
        flash(gettext("The sidebar entry is back to the module's defaults."), "success")
        return redirect(url_for("settings.page", slug=module.slug, tab="display"))
    return _display_answer(module, saved=True)


# --- the sidebar's edit mode ----------------------------------------------------------------------

def _sidebar(edit: bool, focus: str = ""):
    if not wants_fragment():
        return redirect(url_for("display.sections_page"))
    return sidebar_html(edit=edit, focus=focus)


@bp.get("/sidebar")
def sidebar():
    return _sidebar(request.args.get("edit") == "1")


@bp.post("/sidebar/order")
def sidebar_order():
    display.reorder(request.form.getlist("order"), current_user.username)
    return _sidebar(True)


@bp.post("/sidebar/move")
def sidebar_move():
    slug, direction = request.form.get("slug", ""), request.form.get("direction", "")
    if direction not in ("up", "down"):
        direction = "down"
    display.move(slug, direction, current_user.username)
    return _sidebar(True, focus=f"{slug}:{direction}")


# --- menu sections --------------------------------------------------------------------------------

def _sections_answer(status=200, **options):
    context = sections_context(**options)
    if wants_fragment():
        html = fragment_with_sidebar("settings/_sections.html", **context)
        return make_response(html, status)
    return make_response(render_template("settings/sections.html", **context), status)


@bp.get("/sections")
def sections_page():
    return page_or_fragment("settings/sections.html", "settings/_sections.html", **sections_context())


@bp.post("/sections")
def section_add():
    try:
        section = sections.add(request.form.get("label", ""), current_user.username)
    except FormError as exc:
        db.session.rollback()
        return _sections_answer(422, errors=exc.errors, typed={"label": request.form.get("label", "")[:200]})
    return _sections_answer(message=gettext("Section “%(label)s” added.", label=section.label))


@bp.post("/sections/<key>/rename")
def section_rename(key):
    field = f"label-{key}"
    try:
        sections.rename(key, request.form.get("label", ""), current_user.username)
    except FormError as exc:
        db.session.rollback()
        return _sections_answer(422, errors=exc.errors, typed={field: request.form.get("label", "")[:200]})
    return _sections_answer(message=gettext("Section renamed."))


@bp.post("/sections/<key>/move")
def section_move(key):
    sections.move(key, "up" if request.form.get("direction") == "up" else "down", current_user.username)
    return _sections_answer()


@bp.post("/sections/<key>/delete")
def section_delete(key):
    confirmed = request.form.get("confirm") == "1"
    try:
        moved = sections.delete(key, current_user.username, confirmed=confirmed)
    except sections.ConfirmationNeeded as exc:
        db.session.rollback()
        row = next((r for r in sections.rows() if r.key == exc.section_key), None)
        return _sections_answer(409, confirm=row)
    message = (ngettext("Section deleted; %(num)s module moved to “%(default)s”.",
                        "Section deleted; %(num)s modules moved to “%(default)s”.", moved,
                        default=sections.default_label()) if moved else gettext("Section deleted."))
    return _sections_answer(message=message)
