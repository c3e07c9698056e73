"""Shared set-up for the benchmarks: a migrated panel in a temporary instance, signed in."""

import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSWORD = "bench password 123"


def panel_app(setup=None):
    """A panel app on a fresh, migrated instance folder, and a test client signed in as admin.

    `setup(app)` runs before the first request (to add a route for comparison)."""
    import flask_migrate

    from panel import MIGRATIONS_DIR, create_app
    from panel.services import users

    instance = Path(tempfile.mkdtemp(prefix="panel-bench-"))
    app = create_app({"INSTANCE_PATH": str(instance), "SECRET_KEY": "bench", "EMBEDDED_HUB": False})
    if setup:
        setup(app)
    with app.app_context():
        flask_migrate.upgrade(directory=MIGRATIONS_DIR)
        users.create("admin", PASSWORD)
    return app, signed_in(app), instance


def open_app(instance: Path):
    """Another process's panel on an existing instance folder (a fresh worker), signed in."""
    from panel import create_app

    app = create_app({"INSTANCE_PATH": str(instance), "SECRET_KEY": "bench", "EMBEDDED_HUB": False})
    return app, signed_in(app)


def signed_in(app):
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    response = client.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.status_code
    html = client.get("/modules").get_data(as_text=True)
    client.csrf = re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)
    return client


def rss_mb() -> float:
    """This process's resident memory."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1048576


def spread(samples) -> str:
    """min/median/max in milliseconds."""
    ms = sorted(s * 1000 for s in samples)
    return f"{ms[0]:.1f}/{statistics.median(ms):.1f}/{ms[-1]:.1f}"


def timed(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def median_ms(samples) -> float:
    return statistics.median(samples) * 1000
