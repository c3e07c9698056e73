"""Start-up and worker memory: the panel against a bare Flask app, same gunicorn settings.

Each run starts gunicorn (1 worker, 4 threads, like one worker of `bench/load.py`) and measures
the time from the process's start to its first answer (`GET /login`, polled every 5 ms), then the
worker's resident memory after its first page (the panel: sign in, then `/modules`; the bare app:
`/modules`, the same rows rendered). The panel runs as deployed: `gunicorn app:app` on a migrated
instance folder, the embedded store and the migration check at start switched on (their defaults).
The bare app is `bench/_bare_app.py` on the same database. Three runs each, min/median/max.
Also printed: the CPU time the master and its worker used until the first answer, which other
processes on a shared machine disturb far less than the time itself.

Run: .venv/bin/python bench/startup.py
Goals (issue 14): start-up <= 2x and worker memory <= 1.5x the bare app's.
"""

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from _servers import BIN, PASSWORD, ROOT, flask_cli, free_port, sign_in

RUNS = 3


def worker_rss_mb(master: int) -> float:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    total = 0.0
    for pid in children:  # one worker
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) / 1024
    return total


def cpu_seconds(master: int) -> float:
    """User + system CPU time of the master and its workers so far."""
    pids = [str(master), *Path(f"/proc/{master}/task/{master}/children").read_text().split()]
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return ticks / os.sysconf("SC_CLK_TCK")


def start_and_measure(target: str, env: dict, first_page) -> tuple[float, float, float]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tempfile.TemporaryFile("w+")
    start = time.perf_counter()
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "--workers", "1", "--threads", "4", "--bind", f"127.0.0.1:{port}",
         "--log-level", "warning", target],
        cwd=ROOT, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **env}, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)
    try:
        deadline = start + 60
        while True:
            try:
                if requests.get(f"{url}/login", timeout=10).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if process.poll() is not None or time.perf_counter() > deadline:
                log.seek(0)
                sys.exit(f"{target} did not start:\n{log.read()[-2000:]}")
            time.sleep(0.005)
        elapsed = time.perf_counter() - start
        cpu = cpu_seconds(process.pid)
        first_page(url)
        return elapsed, worker_rss_mb(process.pid), cpu
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def panel_page(url: str) -> None:
    sign_in(url)  # signs in, then loads /modules


def bare_page(url: str) -> None:
    assert requests.get(f"{url}/modules", timeout=10).status_code == 200


def spread(values, unit: str, scale: float = 1.0) -> str:
    values = sorted(v * scale for v in values)
    return f"{values[0]:.0f}/{statistics.median(values):.0f}/{values[-1]:.0f} {unit}"


def main() -> None:
    instance = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    database = f"sqlite:///{instance / 'panel.db'}"
    env = {"PANEL_INSTANCE_PATH": str(instance), "SECRET_KEY": "bench", "DATABASE_URL": database}
    flask_cli(env, "db", "upgrade")
    flask_cli(env, "admin", "create", "admin", "--password", PASSWORD)
    panel_runs, bare_runs = [], []
    for _ in range(RUNS):  # interleaved, so both see the same load on the machine
        bare_runs.append(start_and_measure("bench._bare_app:app", {"BENCH_DATABASE_URL": database}, bare_page))
        panel_runs.append(start_and_measure("app:app", env, panel_page))
    print(f"{RUNS} runs each (min/median/max); gunicorn, 1 worker, 4 threads; first answer = GET /login")
    for label, runs in (("panel", panel_runs), ("bare Flask", bare_runs)):
        print(f"{label:>10}: start to first answer {spread([r[0] for r in runs], 'ms', 1000)}, "
              f"worker RSS after first page {spread([r[1] for r in runs], 'MB')}, "
              f"CPU to first answer {spread([r[2] for r in runs], 'ms', 1000)}")
    start_ratio = statistics.median(r[0] for r in panel_runs) / statistics.median(r[0] for r in bare_runs)
    memory_ratio = statistics.median(r[1] for r in panel_runs) / statistics.median(r[1] for r in bare_runs)
    cpu_ratio = statistics.median(r[2] for r in panel_runs) / statistics.median(r[2] for r in bare_runs)
    print(f"     ratio: start-up {start_ratio:.2f}x (goal <= 2x), worker memory {memory_ratio:.2f}x (goal <= 1.5x); "
          f"CPU to first answer {cpu_ratio:.2f}x")


if __name__ == "__main__":
    main()
