"""What a serving worker imports: only what rendering pages needs.

The store client (`requests`), signatures (`cryptography`), migrations (`alembic`, Flask-Migrate),
markdown, the embedded store and the command line are imported when first used (`lazy_module`,
panel/extensions.py), so a worker that only serves pages starts faster and holds about 25 MB less
(bench/startup.py measures it). The tests of each feature check that it still works when first used.
"""

import json
import os
import subprocess
import sys
import threading

from conftest import PASSWORD, ROOT, create_admin, install_sample, make_app

from panel import EmbeddedHub
from panel.extensions import lazy_module

DEFERRED = ("alembic", "flask_migrate", "requests", "urllib3", "cryptography", "markdown", "nh3",
            "panel.hub", "panel.cli.admin", "panel.cli.modules", "panel.cli.license")

# Run the way gunicorn runs it (`app:app`: the migration check at start and the embedded store on, their
# defaults), serve the sign-in page, sign in, then the list of modules; say which deferred modules came in;
# then the embedded store's catalog.
WORKER = """
import json, re, sys
from app import app

client = app.test_client()
login = client.get("/login")
assert login.status_code == 200, login.status_code
token = re.search(r'name="csrf_token" value="([^"]+)"', login.get_data(as_text=True)).group(1)
signed_in = client.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token})
assert signed_in.status_code == 302, signed_in.status_code
listing = client.get("/modules")
assert listing.status_code == 200 and 'id="module-' in listing.get_data(as_text=True), listing.status_code
print(json.dumps(sorted(name for name in DEFERRED if name in sys.modules)))
assert client.get("/store/api/modules").status_code == 200  # the embedded store, built now
print(json.dumps(sorted(name for name in ("alembic", "flask_migrate") if name in sys.modules)))
"""


def test_a_lazy_module_is_imported_by_its_first_attribute_read_once(tmp_path, monkeypatch):
    (tmp_path / "lazy_probe.py").write_text("IMPORTS = []\nIMPORTS.append(1)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "lazy_probe", raising=False)
    probe = lazy_module("lazy_probe")
    assert "lazy_probe" not in sys.modules
    assert probe.IMPORTS == [1] and probe.IMPORTS is sys.modules["lazy_probe"].IMPORTS
    assert probe.IMPORTS == [1]  # not run again


def test_a_worker_serving_pages_imports_none_of_what_only_some_actions_need(tmp_path, migrated_db):
    app = make_app(tmp_path / "instance", migrated_db)
    create_admin(app)
    install_sample(app, "hello")  # so /modules renders a card, not only the empty list
    env = {**os.environ, "PANEL_INSTANCE_PATH": str(tmp_path / "instance"), "SECRET_KEY": "test-secret"}
    script = f"PASSWORD = {PASSWORD!r}\nDEFERRED = {DEFERRED!r}\n{WORKER}"
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    pages, store = result.stdout.splitlines()[-2:]
    assert json.loads(pages) == []
    assert json.loads(store) == []  # the store's catalog needs no migration: its license database opens on first use


def test_the_embedded_store_is_built_once_by_its_first_requests(tmp_path):
    store = EmbeddedHub({"HUB_INSTANCE_PATH": str(tmp_path / "hub")})
    built, barrier = [], threading.Barrier(4)

    def first_request():
        barrier.wait(timeout=10)
        built.append(store.app)

    threads = [threading.Thread(target=first_request) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(built) == 4 and all(app is built[0] for app in built)


def test_an_embedded_store_that_cannot_start_says_so_and_the_panel_goes_on(tmp_path, migrated_db):
    app = make_app(tmp_path / "instance", migrated_db, HUB_CONFIG={"HUB_SYNTHETIC_MODULES": "many"})
    create_admin(app)
    client = app.test_client()
    answer = client.get("/store/api/modules")
    assert answer.status_code == 503 and answer.is_json
    assert answer.get_json()["error"] == "The embedded store could not start; see the panel's log."
    assert "many" not in answer.get_data(as_text=True)
    assert client.get("/login").status_code == 200
