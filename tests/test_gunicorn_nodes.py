"""Two panel nodes (gunicorn, separate instance folders) on one PostgreSQL, tested as they run.

Both share DATABASE_URL, SECRET_KEY and the store's settings (HUB_DATABASE_URL, HUB_KEY_PATH), as
README's "Several instances" says; each serves the one store at its own /store. They start at the
same moment, so the migrations at start race too.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import sqlalchemy

from conftest import ON_POSTGRES, PASSWORD, ROOT
from test_gunicorn import free_port, fresh_get, sign_in

pytestmark = pytest.mark.skipif(not ON_POSTGRES, reason="two nodes need one shared PostgreSQL: runs in make test's "
                                "PostgreSQL pass (PANEL_TEST_DATABASE=postgresql)")
BIN = Path(sys.executable).parent
DEMO_KEY = "PANEL-DEMKY-TRYME-ABCDE-FGHJ6"


class Node:
    def __init__(self, name: str, folder: Path, shared: dict):
        self.name, self.instance = name, folder / name
        self.instance.mkdir(parents=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **shared, "PANEL_INSTANCE_PATH": str(self.instance), "PYTHONDONTWRITEBYTECODE": "1",
                    "MARKETPLACE_URL": f"{self.url}/store"}
        self.process = None

    def start(self, **extra_env):
        self.log = (self.instance / "gunicorn.log").open("a+")
        self.process = subprocess.Popen(
            [str(BIN / "gunicorn"), "--workers", "2", "--threads", "4", "--bind", f"127.0.0.1:{self.port}",
             "--timeout", "60", "app:app"],
            cwd=ROOT, env={**self.env, **extra_env}, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        return self

    def wait_ready(self):
        deadline = time.monotonic() + 90
        while True:
            try:
                if requests.get(f"{self.url}/login", timeout=10).status_code == 200:
                    return self
            except (requests.ConnectionError, requests.Timeout):
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.log.seek(0)
                pytest.fail(f"node {self.name} did not start:\n{self.log.read()[-3000:]}")
            time.sleep(0.2)

    def stop(self, sig=signal.SIGTERM):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=15)
        self.process = None

    def cli(self, *args):
        result = subprocess.run([str(BIN / "flask"), "--app", "app", *args], cwd=ROOT, env=self.env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"flask {' '.join(args)}: {result.stdout}{result.stderr}"
        return result.stdout


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, postgres_server):
    folder = tmp_path_factory.mktemp("nodes")
    postgres_server.execute("CREATE DATABASE nodes_panel")
    postgres_server.execute("CREATE DATABASE nodes_store")
    shared = {"DATABASE_URL": postgres_server.url("nodes_panel"), "SECRET_KEY": "shared-secret-for-the-test",
              "HUB_DATABASE_URL": postgres_server.url("nodes_store"), "HUB_KEY_PATH": str(folder / "store-key.pem")}
    nodes = [Node("a", folder, shared), Node("b", folder, shared)]
    try:
        for node in nodes:  # both at once: the migrations at start are applied once, under the lock
            node.start()
        for node in nodes:
            node.wait_ready()
        nodes[0].cli("admin", "create", "admin", "--password", PASSWORD)
        yield nodes
    finally:
        for node in nodes:
            node.stop()
            node.log.close()


def htmx(session, token, url):
    return session.post(url, headers={"HX-Request": "true", "X-CSRFToken": token}, timeout=30)


def install_from_store(node, session, token, slug, version=None, wait=True):
    data = {"csrf_token": token, **({"version": version} if version else {})}
    session.post(f"{node.url}/marketplace/refresh", data={"csrf_token": token}, timeout=30)  # the store's catalog
    response = session.post(f"{node.url}/marketplace/{slug}/install", data=data, allow_redirects=False, timeout=30)
    assert response.status_code == 302, response.text[:500]
    job_url = node.url + response.headers["Location"]
    if not wait:
        return job_url
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = session.get(job_url, headers={"Accept": "application/json"}, timeout=10).json()
        if job["state"] in ("done", "failed"):
            assert job["state"] == "done", job
            return job_url
        time.sleep(0.2)
    pytest.fail(f"install of {slug} did not finish: {job}")


def disk_version(node, slug) -> str:
    return json.loads((node.instance / "modules" / slug / "module.json").read_text())["version"]


def sidebar(html: str) -> str:
    return html.split('<nav id="sidebar"', 1)[1].split("</nav>", 1)[0]


def card_state(node, cookies, slug) -> str:
    html = fresh_get(f"{node.url}/modules", cookies).text
    return re.search(rf'id="module-{slug}" data-state="(\w+)"', html).group(1)


def test_install_enable_disable_uninstall_across_nodes(cluster):
    a, b = cluster
    session_a, token_a = sign_in(a.url)
    session_b, token_b = sign_in(b.url)
    install_from_store(a, session_a, token_a, "hello")
    assert htmx(session_b, token_b, f"{b.url}/modules/hello/enable").status_code == 200
    assert (b.instance / "modules" / "hello" / "__init__.py").is_file()  # B unpacked it from the database
    assert fresh_get(f"{a.url}/m/hello/", session_a.cookies.get_dict()).status_code == 200

    assert htmx(session_a, token_a, f"{a.url}/modules/hello/disable").status_code == 200
    assert fresh_get(f"{b.url}/m/hello/", session_b.cookies.get_dict()).status_code == 404

    assert htmx(session_b, token_b, f"{b.url}/modules/hello/uninstall").status_code == 200
    page = fresh_get(f"{a.url}/modules", session_a.cookies.get_dict()).text
    assert 'data-module="hello"' not in sidebar(page)
    assert not (a.instance / "modules" / "hello").exists()


def test_a_license_activated_through_either_node_is_one_store(cluster):
    a, b = cluster
    first = requests.post(f"{a.url}/store/api/license/activate", json={"key": DEMO_KEY, "instance": "node-test-1"},
                          timeout=30)
    second = requests.post(f"{b.url}/store/api/license/activate", json={"key": DEMO_KEY, "instance": "node-test-1"},
                           timeout=30)
    assert first.status_code == 200 and second.status_code == 200, (first.text, second.text)
    # One store: the same signing key on both nodes, and the same installation counted once.
    assert requests.get(f"{a.url}/store/api/public-key", timeout=10).json() == requests.get(f"{b.url}/store/api/public-key",
                                                                                    timeout=10).json()
    assert first.json()["claims"]["license_id"] == second.json()["claims"]["license_id"]


def test_toggles_raced_from_both_nodes_end_in_one_state(cluster):
    import concurrent.futures

    a, b = cluster
    session_a, token_a = sign_in(a.url)
    session_b, token_b = sign_in(b.url)
    install_from_store(a, session_a, token_a, "notes")
    actions = [(session_a, token_a, a, "enable"), (session_b, token_b, b, "disable")] * 10
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda x: htmx(x[0], x[1], f"{x[2].url}/modules/notes/{x[3]}").status_code, actions))
    assert set(answers) <= {200, 409, 503}, answers
    states = {card_state(node, session.cookies.get_dict(), "notes") for node, session in ((a, session_a), (b, session_b))}
    assert len(states) == 1 and states <= {"enabled", "disabled"}, states
    engine = sqlalchemy.create_engine(a.env["DATABASE_URL"])
    with engine.connect() as connection:
        last = connection.execute(sqlalchemy.text(
            "SELECT action FROM audit_events WHERE slug = 'notes' AND action IN ('enabled', 'disabled') "
            "ORDER BY id DESC LIMIT 1")).scalar()
    engine.dispose()
    assert last == states.pop()


def test_a_node_killed_during_an_install_leaves_the_other_serving_the_old_version(cluster):
    a, b = cluster
    session_b, token_b = sign_in(b.url)
    install_from_store(b, session_b, token_b, "hello", version="1.0.0")
    assert htmx(session_b, token_b, f"{b.url}/modules/hello/enable").status_code == 200

    marker = a.instance / "paused-at"
    a.stop()
    a.start(PANEL_INSTALLER_FAULT="pause:migrated", PANEL_INSTALLER_FAULT_MARKER=str(marker)).wait_ready()
    session_a, token_a = sign_in(a.url)
    job_url = install_from_store(a, session_a, token_a, "hello", wait=False)  # the newest: 1.2.0
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marker.exists(), "the install never reached its last step"
    a.stop(signal.SIGKILL)  # the whole node, mid-install, its transaction open

    cookies_b = session_b.cookies.get_dict()
    assert fresh_get(f"{b.url}/m/hello/", cookies_b).status_code == 200
    assert re.search(r'id="module-hello" data-state="enabled"', fresh_get(f"{b.url}/modules", cookies_b).text)
    assert disk_version(b, "hello") == "1.0.0"

    a.start().wait_ready()  # at start the node undoes its half-done install and fails the job
    job = session_b.get(job_url.replace(a.url, b.url), headers={"Accept": "application/json"}, timeout=10).json()
    assert job["state"] == "failed", job
    assert fresh_get(f"{a.url}/m/hello/", session_a.cookies.get_dict()).status_code == 200
    assert disk_version(a, "hello") == "1.0.0"
