"""Jinja's loader for module templates, and translations looked up once per request."""

from flask import g
from flask_babel import get_translations
from jinja2 import BaseLoader, TemplateNotFound, pass_eval_context
from markupsafe import Markup


class ModuleTemplateLoader(BaseLoader):
    """`@<slug>/<name>` (or `<slug>/<name>`) → `modules/<slug>/templates/<name>`, for loaded modules only.

    `api.render` uses the `@` form, which no panel template folder can shadow (a module named
    like one of them, e.g. `dashboard`, would otherwise get the panel's template).
    """

    def __init__(self, registry):
        self.registry = registry

    def get_source(self, environment, template):
        slug, _, name = template.removeprefix("@").partition("/")
        loaded = self.registry.loaded.get(slug)
        if loaded is None or not name:
            raise TemplateNotFound(template)
        root = (loaded.path / "templates").resolve()
        file = (root / name).resolve()
        if root not in file.parents or not file.is_file():
            raise TemplateNotFound(template)
        mtime = file.stat().st_mtime
        self.registry.templated.add(slug)
        return file.read_text(encoding="utf-8"), str(file), lambda: file.is_file() and file.stat().st_mtime == mtime


def request_translations():
    """Flask-Babel's translations, looked up once per request and locale instead of once per `_()`.

    A page of many cards calls `_()` thousands of times; each Flask-Babel lookup walks several
    context proxies. The cache follows the locale object, so `force_locale` and `refresh` still work.
    """
    if not g:
        return get_translations()
    cached = g.get("_panel_translations")
    babel_context = g.get("_flask_babel")
    locale = getattr(babel_context, "babel_locale", None)
    if cached is not None and locale is not None and cached[0] is locale:
        return cached[1]
    translations = get_translations()
    g._panel_translations = (getattr(g.get("_flask_babel"), "babel_locale", None), translations)
    return translations


# The template side of `_()`, `gettext`, `ngettext`, `pgettext` and `npgettext`, with Jinja's
# "newstyle" meaning (escaped, then always %-formatted with the keyword arguments), called directly:
# Jinja's own wrappers pass through two context calls per string, a quarter of a page's render.

@pass_eval_context
def template_gettext(eval_ctx, string, **variables):
    text = request_translations().ugettext(string)
    return (Markup(text) if eval_ctx.autoescape else text) % variables


@pass_eval_context
def template_ngettext(eval_ctx, singular, plural, num, **variables):
    variables.setdefault("num", num)
    text = request_translations().ungettext(singular, plural, num)
    return (Markup(text) if eval_ctx.autoescape else text) % variables


@pass_eval_context
def template_pgettext(eval_ctx, context, string, **variables):
    variables.setdefault("context", context)
    text = request_translations().upgettext(context, string)
    return (Markup(text) if eval_ctx.autoescape else text) % variables


@pass_eval_context
def template_npgettext(eval_ctx, context, singular, plural, num, **variables):
    variables.setdefault("context", context)
    variables.setdefault("num", num)
    text = request_translations().unpgettext(context, singular, plural, num)
    return (Markup(text) if eval_ctx.autoescape else text) % variables


def install_translations(env) -> None:
    """`{% trans %}` blocks and `_()` calls in every template, in the request's language."""
    env.newstyle_gettext = True
    env.globals.update(_=template_gettext, gettext=template_gettext, ngettext=template_ngettext,
                       pgettext=template_pgettext, npgettext=template_npgettext)
