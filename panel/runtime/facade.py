"""`ModuleAPI`: the one object a module sees. Modules never get the Flask app itself.

A module's `__init__.py` defines `setup(api)` and uses only what is documented here:

    def setup(api):
        @api.page("/")
        def index():
            return api.render("index.html", greeting=api.settings.get("greeting"))

        api.on("enable", lambda: None)

The default sidebar entry (`menu`) and the settings fields come from `module.json`.
"""

from collections.abc import Callable, Mapping

from flask import abort, flash, redirect, render_template, request
from flask_babel import gettext
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import text
from werkzeug.routing import Map, Rule

from ..extensions import db
from ..manifest import coerce_setting
from ..models import ModuleSetting

HOOKS = ("install", "enable", "disable", "uninstall", "upgrade")


class ModuleSettings(Mapping):
    """The module's saved settings, read from the database (so every worker agrees).

    Values come typed as the manifest's field says: bool for boolean, int for integer, str for
    the others (a secret in clear, for the module's own use); None when unset without a default.
    """

    def __init__(self, slug: str, fields: list[dict]):
        self._slug = slug
        self._fields = {f["key"]: f for f in fields if isinstance(f, dict) and f.get("key")}
        self._defaults = {key: f.get("default") for key, f in self._fields.items()}

    def _values(self) -> dict:
        stored = {row.key: row.value for row in db.session.query(ModuleSetting).filter_by(slug=self._slug)}
        values = {**self._defaults, **stored}
        return {key: coerce_setting(self._fields[key], value) if key in self._fields else value
                for key, value in values.items()}

    def __getitem__(self, key):
        return self._values()[key]

    def __iter__(self):
        return iter(self._values())

    def __len__(self):
        return len(self._values())


class ModuleDatabase:
    """SQL on the panel's database, for the module's own tables (named with `api.table`)."""

    @property
    def dialect(self) -> str:
        """"sqlite" or "postgresql": for the rare DDL that differs between the two."""
        return db.engine.dialect.name

    def execute(self, statement: str, **params):
        return db.session.execute(text(statement), params)

    def fetchall(self, statement: str, **params) -> list[dict]:
        return [dict(row._mapping) for row in db.session.execute(text(statement), params)]

    def commit(self) -> None:
        db.session.commit()


class ModuleAPI:
    def __init__(self, slug: str, manifest: dict, url_prefix: str):
        self.slug = slug
        self.manifest = manifest
        self.url_prefix = url_prefix
        self._rules: list[Rule] = []
        self._url_map: Map | None = None
        self.views: dict[str, Callable] = {}
        self.hooks: dict[str, list[Callable]] = {name: [] for name in HOOKS}
        self.settings = ModuleSettings(slug, manifest.get("settings") or [])
        self.db = ModuleDatabase()

    # pages -----------------------------------------------------------------
    def page(self, rule: str, methods=("GET",), endpoint: str | None = None):
        """Serve a view at `/m/<slug><rule>` while the module is enabled."""

        def decorator(view):
            name = endpoint or view.__name__
            self._rules.append(Rule(rule, endpoint=name, methods=list(methods)))
            self._url_map = None
            self.views[name] = view
            return view

        return decorator

    @property
    def url_map(self) -> Map:
        """The module's pages, compiled on first use: compiling a rule costs more than the rest of
        switching a module on, and most modules switched on serve no page before the next switch."""
        found = self._url_map
        if found is None:
            found = self._url_map = Map([rule.empty() for rule in self._rules], strict_slashes=False)
        return found

    def url_for(self, endpoint: str, **values) -> str:
        adapter = self.url_map.bind("", script_name=self.url_prefix)
        return adapter.build(endpoint, values)

    def static_url(self, filename: str) -> str:
        return f"{self.url_prefix}/static/{filename}"

    def render(self, template: str, **context) -> str:
        """Render `templates/<template>` of this module inside the panel's layout."""
        return render_template(f"@{self.slug}/{template}", api=self, module_slug=self.slug, **context)

    # helpers a page needs ------------------------------------------------------
    request = request
    abort = staticmethod(abort)
    redirect = staticmethod(redirect)
    Markup = Markup

    def flash(self, message: str, category: str = "success") -> None:
        flash(message, category)

    def gettext(self, message: str, **variables) -> str:
        return gettext(message, **variables)

    def current_user_name(self) -> str:
        return current_user.username if current_user.is_authenticated else ""

    def table(self, name: str) -> str:
        """The name to give a table of this module: `mod_<slug>_<name>`."""
        return f"mod_{self.slug}_{name}"

    # lifecycle -------------------------------------------------------------------
    def on(self, hook: str, function: Callable | None = None):
        if hook not in HOOKS:
            raise ValueError(f"unknown hook {hook!r}; use one of {', '.join(HOOKS)}")

        def register(fn):
            self.hooks[hook].append(fn)
            return fn

        return register(function) if function else register

    def run_hook(self, hook: str, *args) -> None:
        for fn in self.hooks[hook]:
            fn(*args)
