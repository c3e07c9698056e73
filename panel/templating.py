"""Jinja set-up: module templates, the sidebar builder, asset URLs."""

from pathlib import Path

from flask import current_app
from flask_babel import get_locale
from jinja2 import BaseLoader, ChoiceLoader, TemplateNotFound

from . import presenters
from .i18n import LANGUAGE_NAMES
from .version import CORE_VERSION


class ModuleTemplateLoader(BaseLoader):
    """`<slug>/<name>` → `modules/<slug>/templates/<name>`, for loaded modules only."""

    def __init__(self, registry):
        self.registry = registry

    def get_source(self, environment, template):
        slug, _, name = template.partition("/")
        loaded = self.registry.loaded.get(slug)
        if loaded is None or not name:
            raise TemplateNotFound(template)
        root = (loaded.path / "templates").resolve()
        file = (root / name).resolve()
        if root not in file.parents or not file.is_file():
            raise TemplateNotFound(template)
        mtime = file.stat().st_mtime
        return file.read_text(encoding="utf-8"), str(file), lambda: file.is_file() and file.stat().st_mtime == mtime


def init_app(app) -> None:
    app.jinja_loader = ChoiceLoader([app.jinja_loader, ModuleTemplateLoader(app.extensions["module_registry"])])
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    @app.context_processor
    def layout_helpers():
        return {
            "sidebar_context": presenters.sidebar_context,
            "audit_action_label": presenters.audit_action_label,
            "core_version": CORE_VERSION,
            "get_locale": get_locale,
            "language_names": LANGUAGE_NAMES,
            "languages": current_app.config["LANGUAGES"],
        }
