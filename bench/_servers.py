"""Shared by the multi-process benchmarks: a throwaway PostgreSQL, gunicorn servers stopped by their
id, signed-in HTTP clients."""

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "tests"))
PASSWORD = "bench password 123"


def postgres():
    """A started throwaway PostgreSQL server (tests/postgres_server.py), or exit with the install hint."""
    from postgres_server import PostgresServer

    try:
        return PostgresServer().start()
    except FileNotFoundError as exc:
        sys.exit(str(exc))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    def __init__(self, target: str, env: dict, workers: int = 4, threads: int = 4, port: int | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **env}
        self.log = tempfile.TemporaryFile("w+")
        self.process = subprocess.Popen(
            [str(BIN / "gunicorn"), "--workers", str(workers), "--threads", str(threads), "--bind",
             f"127.0.0.1:{self.port}", "--timeout", "60", "--log-level", "warning", target],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 90
        while True:
            try:
                if requests.get(f"{self.url}/login", timeout=10).status_code in (200, 404):
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.log.seek(0)
                self.stop()
                sys.exit(f"gunicorn {target} did not start:\n{self.log.read()[-2000:]}")
            time.sleep(0.2)

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the master and its live workers."""
        tick = os.sysconf("SC_CLK_TCK")
        pids = [self.process.pid, *Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()]
        total = 0
        for pid in pids:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / tick

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=15)


def flask_cli(env: dict, *args) -> str:
    result = subprocess.run([str(BIN / "flask"), "--app", "app", *args], cwd=ROOT, env={**os.environ, **env},
                            capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        sys.exit(f"flask {' '.join(args)}: {result.stdout}{result.stderr}")
    return result.stdout


def sign_in(url: str) -> tuple[dict, str]:
    """Cookies of a signed-in administrator and a CSRF token for them."""
    session = requests.Session()
    html = session.get(f"{url}/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    response = session.post(f"{url}/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token},
                            allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.status_code
    html = session.get(f"{url}/modules", timeout=10).text
    return session.cookies.get_dict(), re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)
