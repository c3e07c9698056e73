"""Fixtures `app`, `client`, `runner` (as in Flask's tutorial) and helpers to sign in and install."""

import itertools
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from panel import MIGRATIONS_DIR, create_app
from panel.extensions import db

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "panel" / "hub" / "sources"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="session", autouse=True)
def compiled_catalogs():
    """Compile the .po catalogs the way `make translations` does, so a test run never uses stale ones."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po_file in (ROOT / "panel" / "translations").glob("*/LC_MESSAGES/messages.po"):
        mo_file = po_file.with_suffix(".mo")
        if not mo_file.exists() or mo_file.stat().st_mtime < po_file.stat().st_mtime:
            with po_file.open("rb") as fh:
                catalog = read_po(fh)
            with mo_file.open("wb") as fh:
                write_mo(fh, catalog)


# --- the database every test starts from: SQLite (default) or PostgreSQL -----------------------

TEST_DATABASE = os.environ.get("PANEL_TEST_DATABASE", "sqlite").lower()
ON_POSTGRES = TEST_DATABASE.startswith("postgres")
# For tests that copy the instance folder to fake several crashed processes: with SQLite each copy
# holds its own database, with PostgreSQL the copies would share one. They ran in the SQLite pass.
sqlite_only = pytest.mark.skipif(ON_POSTGRES, reason="copies the SQLite database file for each simulated crash; "
                                 "covered by the SQLite pass of the same run")


def pytest_collection_modifyitems(config, items):
    """On PostgreSQL, run only the tests that touch the panel's database: the rest ran on SQLite."""
    if not ON_POSTGRES:
        return
    kept, other = [], []
    for item in items:
        uses_database = {"migrated_db", "postgres_server"} & set(getattr(item, "fixturenames", ()))
        (kept if uses_database else other).append(item)
    config.hook.pytest_deselected(items=other)
    items[:] = kept


def pytest_report_header(config):
    return f"database: {'PostgreSQL' if ON_POSTGRES else 'SQLite'} (PANEL_TEST_DATABASE={TEST_DATABASE})"


class PostgresTemplate:
    """A server migrated once per session into `panel_template`; `fresh_url()` copies it for one test."""

    def __init__(self, server):
        self.server = server
        self.count = itertools.count()

    def fresh_url(self) -> str:
        name = f"t_{next(self.count)}"
        self.server.execute(f"CREATE DATABASE {name} TEMPLATE panel_template")
        return self.server.url(name)


@pytest.fixture(scope="session")
def postgres_server():
    """The throwaway PostgreSQL server; skips (or, where CI=true, fails) when PostgreSQL is missing."""
    from postgres_server import INSTALL_HINT, PostgresServer

    try:
        server = PostgresServer().start()
    except FileNotFoundError:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(INSTALL_HINT, pytrace=False)
        pytest.skip(INSTALL_HINT)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory, request):
    """Run the migrations once; each test starts from a copy of that database (see make_app)."""
    import flask_migrate

    folder = tmp_path_factory.mktemp("template-instance")
    config = {"TESTING": True, "INSTANCE_PATH": str(folder), "SECRET_KEY": "test", "MIGRATE_AT_START": False}
    if ON_POSTGRES:
        server = request.getfixturevalue("postgres_server")
        server.execute("CREATE DATABASE panel_template")
        config["DATABASE_URL"] = server.url("panel_template")
    app = create_app(config)
    with app.app_context():
        flask_migrate.upgrade(directory=MIGRATIONS_DIR)
        db.engine.dispose()
    return PostgresTemplate(server) if ON_POSTGRES else folder / "panel.db"


def make_app(instance: Path, migrated_db, **config):
    instance.mkdir(parents=True, exist_ok=True)
    if isinstance(migrated_db, PostgresTemplate):
        config.setdefault("DATABASE_URL", migrated_db.fresh_url())
        # What the test starts again on this instance folder (a restart, a child process) opens
        # the same database, as the same folder's panel.db would on SQLite.
        os.environ["DATABASE_URL"] = config["DATABASE_URL"]
    else:
        shutil.copy(migrated_db, instance / "panel.db")
    return create_app({"TESTING": True, "INSTANCE_PATH": str(instance), "SECRET_KEY": "test-secret",
                       "MIGRATE_AT_START": False, **config})


@pytest.fixture(autouse=True)
def _database_url_of_this_test():
    """make_app points DATABASE_URL at the test's database on PostgreSQL; put it back after."""
    saved = os.environ.get("DATABASE_URL")
    yield
    if saved is None:
        os.environ.pop("DATABASE_URL", None)
    else:
        os.environ["DATABASE_URL"] = saved


@pytest.fixture
def app(tmp_path, migrated_db):
    app = make_app(tmp_path / "instance", migrated_db)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def csrf_token(client, path="/modules") -> str:
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'"X-CSRFToken": "([^"]+)"', html) or re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def create_admin(app, name="admin", password=PASSWORD):
    from panel.services import users

    with app.app_context():
        users.create(name, password)


def sign_in(client, name="admin", password=PASSWORD):
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"username": name, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)
    return csrf_token(client)


@pytest.fixture
def admin_client(app, client):
    """A client signed in as the administrator; `client.csrf` holds a valid token."""
    create_admin(app)
    client.csrf = sign_in(client)
    return client


def install_sample(app, slug: str, source: Path | None = None) -> None:
    from panel.installer import install_dir

    with app.app_context():
        install_dir(source or SOURCES / slug, "test")


def htmx_post(client, path, data=None, token=None, **headers):
    return client.post(path, data=data or {}, headers={"HX-Request": "true",
                                                      "X-CSRFToken": token or client.csrf, **headers})


def shown_counts(html: str) -> dict[str, int]:
    """The counts above the list as a page or a toggle's answer shows them, by state."""
    return {state: int(n) for state, n in re.findall(
        r'data-count="(\w+)">[^<]*<span class="badge[^"]*">(\d+)</span>', html)}


def make_menu_module(folder: Path, slug: str, label: str, section: str = "tools") -> Path:
    """A minimal module of our own (a page and a sidebar entry), independent of the samples' code."""
    folder.mkdir(parents=True)
    (folder / "module.json").write_text(json.dumps({
        "slug": slug, "name": label, "version": "1.0.0", "requires_core": ">=1.0",
        "menu": {"label": label, "icon": "journal-text", "section": section}}), encoding="utf-8")
    (folder / "__init__.py").write_text(
        "def setup(api):\n    @api.page('/')\n    def index():\n        return 'ok'\n", encoding="utf-8")
    return folder


# --- live server and browser --------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic"]


class LiveServer:
    """The app served by Werkzeug in a thread on a free loopback port."""

    def __init__(self, app):
        import threading

        from werkzeug.serving import make_server

        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.thread.join(timeout=10)


@pytest.fixture
def live_server(app):
    server = LiveServer(app)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chromium(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed: `apt-get install chromium` (Debian) puts it at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM, headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900},
        )
        yield context
        context.close()


@pytest.fixture
def page(chromium):
    """A fresh tab (cookies cleared) that fails the test on any JavaScript error or CSP violation."""
    chromium.clear_cookies()
    tab = chromium.new_page()
    tab.set_default_timeout(10_000)
    errors = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" and
           "Content Security Policy" in msg.text else None)
    yield tab
    tab.close()
    assert not errors, f"errors in the browser: {errors}"


def browser_sign_in(page, base_url, name="admin", password=PASSWORD):
    page.goto(f"{base_url}/login")
    page.fill("#username", name)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")


# --- marketplace hub on a loopback port -----------------------------------------------------------

class HubServer:
    """The reference hub (`create_hub`) served on a free loopback port, with real HTTP.

    `override` (a WSGI callable, or None) answers instead of the hub: tests use it for a store that
    fails, hangs, redirects or sends hostile data. `store` is the hub's data (`store.set_extra([...])`).
    """

    def __init__(self, instance: Path, **config):
        from panel.hub import create_hub

        self.hub = create_hub({"HUB_INSTANCE_PATH": str(instance), **config})
        self.store = self.hub.extensions["hub_store"]
        self.override = None
        self.server = LiveServer(self._wsgi)
        self.url = self.server.url

    def _wsgi(self, environ, start_response):
        return (self.override or self.hub)(environ, start_response)

    def stop(self):
        """Stop serving and close the socket, so the store is really down (connections refused)."""
        self.server.stop()
        self.server.server.server_close()


@pytest.fixture
def hub_server(app, tmp_path):
    """The hub on a loopback port; `app` talks to it (MARKETPLACE_URL) with short back-off for fast tests."""
    server = HubServer(tmp_path / "hub")
    app.config.update(MARKETPLACE_URL=server.url, MARKETPLACE_BACKOFF=0.01, MARKETPLACE_CONNECT_TIMEOUT=2,
                      MARKETPLACE_READ_TIMEOUT=5)
    yield server
    server.stop()
