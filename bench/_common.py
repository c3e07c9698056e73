"""Shared set-up for the benchmarks: a migrated panel in a temporary instance, signed in."""

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
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    response = client.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.status_code
    html = client.get("/modules").get_data(as_text=True)
    client.csrf = re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)
    return app, client, instance


def timed(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def median_ms(samples) -> float:
    return statistics.median(samples) * 1000
