"""Extension objects, bound to an application by `init_app` in the factory, and `lazy_module`, the one
way the panel imports a library only some requests need.

A serving worker renders pages; a few actions need much more: the store client (`requests`), a
signature check (`cryptography`), a migration (`alembic`, Flask-Migrate), markdown. Imported at start,
they cost every worker about 25 MB and a quarter of its start-up (bench/startup.py). So the files that
use them name them at the top with `lazy_module`, and the import runs on first use.
"""

import hmac
import importlib
import threading
import time

from flask import current_app, g, request, session
from flask_babel import Babel
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy.orm import DeclarativeBase

from .runtime.signed_once import SignedOnce


class LazyModule:
    """A module imported on its first attribute read: `requests = lazy_module("requests")` at the top
    of a file, then `requests.Session()` in a function imports `requests` there, once.

    Read its attributes in function bodies only (a read at module level imports at once), and keep
    annotations that name its classes as strings (`from __future__ import annotations`). Safe across
    threads: Python's import lock makes a second thread wait for the first thread's import to finish.
    """

    __slots__ = ("_lazy_name", "_lazy_module")  # names no module exports, so none is hidden

    def __init__(self, name: str):
        self._lazy_name = name
        self._lazy_module = None

    def __getattr__(self, attribute):
        module = self._lazy_module
        if module is None:
            module = self._lazy_module = importlib.import_module(self._lazy_name)
        return getattr(module, attribute)

    def __repr__(self) -> str:
        return f"<module {self._lazy_name!r}, imported on first use>"


def lazy_module(name: str) -> LazyModule:
    """`name` (absolute, e.g. "cryptography.exceptions"), imported when an attribute is first read."""
    return LazyModule(name)


flask_migrate = lazy_module("flask_migrate")  # with Alembic: 11 MB, needed only to migrate


class Base(DeclarativeBase):
    pass


class Migrations:
    """Flask-Migrate, set up on first use.

    `init_app` records the settings as `app.extensions["migrate"]` (its `directory` readable at once,
    for the check at start, which reads the scripts' text); the first other use of that entry — a
    `flask db …` command, `flask_migrate.upgrade()`, a migration pending at start — imports
    Flask-Migrate and runs its own `Migrate.init_app`, which puts its real entry in its place.
    """

    def init_app(self, app, db, **options) -> None:
        app.extensions["migrate"] = _MigrateOnFirstUse(app, db, options)


class _MigrateOnFirstUse:
    def __init__(self, app, db, options: dict):
        self.directory = str(options["directory"])
        self._app, self._db, self._options = app, db, options
        self._lock = threading.Lock()

    def __getattr__(self, attribute):
        with self._lock:
            if self._app.extensions.get("migrate") is self:
                flask_migrate.Migrate().init_app(self._app, self._db, **self._options)
        return getattr(self._app.extensions["migrate"], attribute)


class CheckedOnceCSRF(CSRFProtect):
    """Flask-WTF's CSRF protection, each signed token's signature checked once per process.

    htmx sends the page's token with every request it makes; checking its HMAC and decoding it each
    time was a tenth of a toggle. A token that passed Flask-WTF's own check is remembered with what
    it signs and when it was signed (`SignedOnce`), so every request still compares it with its
    session's value and checks its age; anything else goes through Flask-WTF as before, with its messages."""

    _SALT = "wtf-csrf-token"  # Flask-WTF's

    def __init__(self, app=None):
        self._checked = SignedOnce()
        super().__init__(app)

    def protect(self, apply_exemptions=False):
        config = current_app.config
        if request.method not in config["WTF_CSRF_METHODS"] or (request.is_secure and config["WTF_CSRF_SSL_STRICT"]):
            return super().protect(apply_exemptions)
        token = self._get_csrf_token()
        secret = config.get("WTF_CSRF_SECRET_KEY") or current_app.secret_key
        known = self._checked.get(secret, token)
        expected = session.get(config["WTF_CSRF_FIELD_NAME"])
        limit = config["WTF_CSRF_TIME_LIMIT"]
        if (known is not None and isinstance(expected, str) and hmac.compare_digest(expected, known[0])
                and (limit is None or time.time() - known[1] <= limit)):
            g.csrf_valid = True
            return None
        super().protect(apply_exemptions)  # raises (a 400 answer) unless the token is good
        if g.get("csrf_valid") and token:
            signed, signed_at = URLSafeTimedSerializer(secret, salt=self._SALT).loads(token, return_timestamp=True)
            self._checked.remember(secret, token, signed, signed_at.timestamp())
        return None


db = SQLAlchemy(model_class=Base)
migrate = Migrations()
csrf = CheckedOnceCSRF()
login_manager = LoginManager()
babel = Babel()
htmx = Htmx()
