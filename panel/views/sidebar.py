"""The sidebar's edit mode (order, move) and the menu sections it groups modules under."""

from flask import Blueprint, make_response, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext
from flask_login import current_user

from ..errors import FormError
from ..extensions import db
from ..services import display, sections
from ..ui.forms import sections_context
from ..ui.rendering import page_or_fragment, wants_fragment
from ..ui.sidebar import fragment_with_sidebar, sidebar_html

bp = Blueprint("sidebar", __name__)


# --- the sidebar's edit mode ----------------------------------------------------------------------

def _sidebar(edit: bool, focus: str = ""):
    if not wants_fragment():
        return redirect(url_for("sidebar.sections_page"))
    return sidebar_html(edit=edit, focus=focus)


@bp.get("/sidebar")
def show():
    return _sidebar(request.args.get("edit") == "1")


@bp.post("/sidebar/order")
def order():
    display.reorder(request.form.getlist("order"), current_user.username)
    return _sidebar(True)


@bp.post("/sidebar/move")
def move():
    slug, direction = request.form.get("slug", ""), request.form.get("direction", "")
    if direction not in ("up", "down"):
        direction = "down"
    display.move(slug, direction, current_user.username)
    return _sidebar(True, focus=f"{slug}:{direction}")


# --- menu sections --------------------------------------------------------------------------------

def _sections_answer(status=200, **options):
    context = sections_context(**options)
    if wants_fragment():
        return make_response(fragment_with_sidebar("settings/_sections.html", **context), status)
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
