"""The forms of a module's settings page and of the menu sections: the saved values, or what was
typed when refused, with each field's message.

Messages go through str(): a lazy string's __html__ skips Jinja's escaping, so they are made
plain text here.
"""

from ..models import Module
from ..services import display, sections, settings


def _plain(errors: dict | None) -> dict[str, str]:
    return {name: str(message) for name, message in (errors or {}).items()}


def settings_form_context(module: Module, submitted: dict | None = None, errors: dict | None = None,
                          saved: bool = False) -> dict:
    """Context of settings/_form.html."""
    return {"settings_form": {"slug": module.slug, "name": module.name,
                              "fields": settings.fields(module, submitted, errors), "errors": _plain(errors),
                              "saved": saved}}


def display_form_context(module: Module, submitted: dict | None = None, errors: dict | None = None,
                         saved: bool = False) -> dict:
    """Context of settings/_display_form.html."""
    form = display.current(module)
    if submitted:
        for name in ("show_in_sidebar", "section", "label", "position"):
            if name in submitted:
                setattr(form, name, submitted[name])
    form.errors = _plain(errors)
    form.saved = saved
    return {"display": form}


def sections_context(errors: dict | None = None, typed: dict | None = None,
                     confirm: sections.SectionRow | None = None, message: str = "") -> dict:
    """Context of settings/_sections.html."""
    return {"sections_panel": {"rows": sections.rows(), "errors": _plain(errors), "typed": typed or {},
                               "confirm": confirm, "default_label": sections.default_label(),
                               "message": str(message)}}
