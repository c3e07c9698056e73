"""Under gunicorn with 3 worker processes, a toggle is seen by every worker on the very next request.

The panel runs as a real subprocess on a free loopback port, set up with the real commands
(`db upgrade`, `admin create`, `modules install-dir`). `hello` is switched 200 times, alternating;
after each switch its page and the sidebar are read through fresh connections (so the kernel
hands them to any worker): no answer may be stale.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import requests

from conftest import PASSWORD, ROOT

TOGGLES = 200
BIN = Path(sys.executable).parent
WORKERS = 3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_cli(env, *args):
    result = subprocess.run([str(BIN / "flask"), "--app", "app", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"flask {' '.join(args)}: {result.stdout}{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def panel_server(tmp_path_factory):
    instance = tmp_path_factory.mktemp("gunicorn-instance")
    env = {**os.environ, "PANEL_INSTANCE_PATH": str(instance), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("SECRET_KEY", None)
    env.pop("DATABASE_URL", None)
    run_cli(env, "db", "upgrade")
    run_cli(env, "admin", "create", "admin", "--password", PASSWORD)
    run_cli(env, "modules", "install-dir", str(ROOT / "panel" / "hub" / "sources" / "hello"))

    port = free_port()
    log = (instance / "gunicorn.log").open("w+")
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "--workers", str(WORKERS), "--bind", f"127.0.0.1:{port}",
         "--access-logfile", "-", "--access-logformat", "%(p)s %(m)s %(U)s %(s)s", "--timeout", "60",
         "app:app"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/login", timeout=10).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(f"gunicorn did not start:\n{log.read()[-3000:]}")
            time.sleep(0.2)
        yield url, instance, log
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=15)
        log.close()


def sign_in(url) -> tuple[requests.Session, str]:
    session = requests.Session()
    html = session.get(f"{url}/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    response = session.post(f"{url}/login", data={"username": "admin", "password": PASSWORD,
                                                  "csrf_token": token}, allow_redirects=False, timeout=10)
    assert response.status_code == 302
    html = session.get(f"{url}/modules", timeout=10).text
    return session, re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)


def fresh_get(url, cookies) -> requests.Response:
    """A new connection every time: no keep-alive, so any worker may answer."""
    return requests.get(url, cookies=cookies, headers={"Connection": "close"}, timeout=10,
                        allow_redirects=False)


def test_toggles_are_seen_by_every_worker_at_once(panel_server):
    url, instance, _ = panel_server
    session, token = sign_in(url)
    cookies = session.cookies.get_dict()
    stale = []
    for i in range(TOGGLES):
        action = "enable" if i % 2 == 0 else "disable"
        expected = "enabled" if action == "enable" else "disabled"
        response = session.post(f"{url}/modules/hello/{action}", timeout=10,
                                headers={"HX-Request": "true", "X-CSRFToken": token})
        assert response.status_code == 200, response.text[:500]
        assert f'id="module-hello" data-state="{expected}"' in response.text

        page = fresh_get(f"{url}/m/hello/", cookies)
        if page.status_code != (200 if expected == "enabled" else 404):
            stale.append((i, "page", page.status_code))
        elif expected == "enabled" and "Hello, admin!" not in page.text:
            stale.append((i, "page text", page.text[:200]))
        sidebar = fresh_get(f"{url}/modules", cookies)
        assert sidebar.status_code == 200
        has_entry = 'data-module="hello"' in sidebar.text.split('<nav id="sidebar"', 1)[1].split("</nav>", 1)[0]
        if has_entry != (expected == "enabled"):
            stale.append((i, "sidebar", has_entry))
        if len(stale) > 10:
            break
    assert stale == [], f"stale answers: {stale[:10]}"

    # The fresh connections really were spread over the workers.
    pids = Counter(match.group(1) for line in (instance / "gunicorn.log").read_text().splitlines()
                   if (match := re.match(r"^<(\d+)> GET /m/hello/ ", line)))
    assert sum(pids.values()) == TOGGLES
    assert len(pids) >= 2, f"every page read went to one worker: {pids}"
