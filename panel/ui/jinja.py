"""Jinja's loader for module templates, and translations looked up once per request."""

from flask import g
from flask_babel import get_translations
from jinja2 import BaseLoader, TemplateNotFound


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
