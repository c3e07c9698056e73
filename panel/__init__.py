"""Module Panel: an admin panel that installs, switches and configures modules."""

import logging
import threading
import time
from pathlib import Path

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import Pool
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from . import cli, i18n, security, ui, views
from .config import PROJECT_ROOT, configure, instance_path_from_env
from .extensions import babel, csrf, db, htmx, lazy_module, login_manager, migrate
from .installer import recover_at_start
from .installer.following import PackageFollower
from .runtime import transactions
from .runtime.registry import Registry
from .services import schema
from .services.jobs import fail_interrupted_jobs

MIGRATIONS_DIR = str(Path(__file__).resolve().parent / "migrations")
hub = lazy_module("panel.hub")  # the embedded store, built by its first request (see `EmbeddedHub`)
log = logging.getLogger(__name__)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


# A connection to a database server that sat unused for this long may have been dropped (a server
# restart, a firewall's idle cut): it is tested before use, and replaced if dead. One in steady use
# is not: SQLAlchemy's `pool_pre_ping` tests every checkout, a round trip per request that was a
# tenth of a busy node's time on PostgreSQL (bench/load.py under py-spy).
PING_AFTER_IDLE_SECONDS = 10.0


@event.listens_for(Pool, "checkin")
def _note_idle_since(dbapi_connection, connection_record):
    connection_record.info["idle_since"] = time.monotonic()


@event.listens_for(Pool, "checkout")
def _ping_after_idle(dbapi_connection, connection_record, connection_proxy):
    idle_since = connection_record.info.get("idle_since")
    if (idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS
            or type(dbapi_connection).__module__.startswith("sqlite3")):  # a file never drops a connection
        return
    autocommit = getattr(dbapi_connection, "autocommit", None)
    try:
        if autocommit is False:
            dbapi_connection.autocommit = True  # the ping must not leave a transaction open
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT 1")
        cursor.close()
        if autocommit is False:
            dbapi_connection.autocommit = False
    except Exception as exc:  # noqa: BLE001 — any failure means this connection is unusable
        raise DisconnectionError("an idle database connection was dropped") from exc  # the pool connects anew


class EmbeddedHub:
    """The reference store mounted at /store, built by its first request, once, not at every start:
    the store signs packages and keeps its own database, which most workers never serve."""

    def __init__(self, config: dict):
        self.config = config
        self._app: Flask | None = None
        self._lock = threading.Lock()

    @property
    def app(self) -> Flask:
        if self._app is None:
            with self._lock:
                if self._app is None:
                    self._app = hub.create_hub(self.config)
        return self._app

    def __call__(self, environ, start_response):
        try:
            store = self.app
        except Exception:  # noqa: BLE001 — e.g. a HUB_ setting it cannot read: the store says so, the panel goes on
            log.exception("the embedded store could not start")
            start_response("503 Service Unavailable", [("Content-Type", "application/json")])
            return [b'{"error": "The embedded store could not start; see the panel\'s log."}']
        return store(environ, start_response)


class PanelFlask(Flask):
    """Flask, with `ensure_sync`'s answer kept per function: Flask asks it of every hook and view on
    every request (nine `inspect` look-ups a toggle), and a function's answer never changes."""

    def __init__(self, *args, **kwargs):
        self._synced: dict = {}
        super().__init__(*args, **kwargs)

    def ensure_sync(self, func):
        try:
            found = self._synced.get(func)
        except TypeError:  # a callable that cannot be a key
            return super().ensure_sync(func)
        if found is None:
            if len(self._synced) >= 1024:  # bound methods are made anew; keep the map small
                self._synced.clear()
            found = self._synced[func] = super().ensure_sync(func)
        return found


def create_app(test_config=None) -> Flask:
    instance_path = (test_config or {}).get("INSTANCE_PATH") or instance_path_from_env()
    app = PanelFlask(
        __name__,
        instance_path=instance_path,
        instance_relative_config=True,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    configure(app, test_config)
    logging.basicConfig(level=app.config["LOG_LEVEL"])
    # Alembic, imported on first use (after this), lists each of its plugins at INFO as it loads: not news.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

    db.init_app(app)
    with app.app_context():
        transactions.init_engine(db.engine)  # PostgreSQL: a request begins its transaction before its first write
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    htmx.init_app(app)

    babel.init_app(app, locale_selector=i18n.select_locale,
                   default_translation_directories=str(Path(__file__).parent / "translations"))
    app.extensions["module_registry"] = Registry(app.config["MODULES_PATH"])
    security.init_app(app)
    ui.init_app(app)

    app.url_map.converters.update(views.converters.CONVERTERS)  # before any rule that names them
    app.register_blueprint(views.error_pages.bp)  # the error pages every area shares
    app.register_blueprint(views.assets.bp)
    app.register_blueprint(views.auth.bp)
    app.register_blueprint(views.dashboard.bp)
    app.register_blueprint(views.modules.bp)  # /modules and /modules/<slug>/enable|disable|uninstall|rollback
    app.register_blueprint(views.module_pages.bp)  # /m/<slug>/…, served by the enabled modules
    app.register_blueprint(views.settings.bp)  # /modules/<slug>/settings and /modules/<slug>/display
    app.register_blueprint(views.sidebar.bp)  # /sidebar and /sections
    app.register_blueprint(views.upload.bp)  # /modules/upload…
    app.register_blueprint(views.marketplace.bp)
    app.register_blueprint(views.jobs.bp)
    app.register_blueprint(views.license.bp)  # /license…, /marketplace/<slug>/trial, the per-request license check
    cli.register(app)

    if app.config["MIGRATE_AT_START"]:
        with app.app_context():
            schema.upgrade_if_pending()
    recover_at_start(app)  # undo or finish installs a crash interrupted; never blocks the start
    # Module code installed, updated or removed by another node is followed before the next request.
    app.before_request(PackageFollower().before_request)

    if app.config.get("EMBEDDED_HUB"):  # the reference store at /store, routed before the panel (no sign-in)
        store = EmbeddedHub({"INSTANCE_PATH": app.instance_path, **app.config["HUB_CONFIG"]})
        app.extensions["embedded_hub"] = store
        app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/store": store})

    try:  # jobs a dead process left running; the table may not exist before the first migration
        with app.app_context():
            fail_interrupted_jobs()
    except Exception:  # noqa: BLE001 — start-up must not fail on this
        log.debug("interrupted jobs not checked", exc_info=True)
    return app
