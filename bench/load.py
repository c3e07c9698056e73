"""The panel under load, on SQLite and on PostgreSQL, against a bare Flask app in the same run.

gunicorn with 4 workers (4 threads each) serves the panel; CLIENTS signed-in clients (threads) send
for SECONDS a mix of GET /modules, GET /marketplace and htmx toggles (enable/disable of two
modules), each client opening a new connection every 10 requests so both apps spread over the
workers. Then the bare app (bench/_bare_app.py: the same list render, and a toggle committing the same change: row, audit entry, counter; no
sign-in) takes the same load on the same database. Prints requests/s, errors and p50/p95/p99 per
route, and the panel/bare ratios (goal: 0 errors, p99 ≤ 1.5×, throughput ≥ 0.7×).

    .venv/bin/python bench/load.py [SECONDS=60] [CLIENTS=50] [sqlite|postgresql|both]
"""

import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import requests

from _servers import PASSWORD, ROOT, Gunicorn, flask_cli, free_port, postgres, sign_in

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 60
CLIENTS = int(sys.argv[2]) if len(sys.argv) > 2 else 50
DATABASES = {"both": ("sqlite", "postgresql")}.get(sys.argv[3] if len(sys.argv) > 3 else "both",
                                                 (sys.argv[3],) if len(sys.argv) > 3 else ())
RECONNECT_EVERY = 10
SLUGS = ("hello", "notes")


def client_loop(url, cookies, token, deadline, number, results, lock):
    """One client: requests in a fixed mix until the deadline, a new connection every 10."""
    i = number
    session = None
    while time.monotonic() < deadline:
        if session is None or i % RECONNECT_EVERY == 0:
            if session:
                session.close()
            session = requests.Session()
            session.cookies.update(cookies)
        kind = i % 3
        if kind == 0:
            route, call = "GET /modules", lambda: session.get(f"{url}/modules", timeout=60)
        elif kind == 1:
            route, call = "GET /marketplace", lambda: session.get(f"{url}/marketplace", timeout=60)
        else:
            slug = SLUGS[(i // 3) % 2]
            action = "enable" if (i // 6) % 2 == 0 else "disable"
            route = "POST toggle"
            call = lambda: session.post(f"{url}/modules/{slug}/{action}", timeout=60,  # noqa: E731
                                        headers={"HX-Request": "true", "X-CSRFToken": token})
        start = time.perf_counter()
        try:
            ok = call().status_code == 200
        except requests.RequestException:
            ok = False
        elapsed = time.perf_counter() - start
        with lock:
            results[route].append((elapsed, ok))
        i += 1
    if session:
        session.close()


def run_load(url, cookies, token, server) -> tuple[dict, float, dict]:
    """The load, and the CPU each side used per request (server: gunicorn's processes; client: this one)."""
    results, lock = defaultdict(list), threading.Lock()
    server_cpu, client_cpu = server.cpu_seconds(), time.process_time()
    deadline = time.monotonic() + SECONDS
    threads = [threading.Thread(target=client_loop, args=(url, cookies, token, deadline, n, results, lock))
               for n in range(CLIENTS)]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=SECONDS + 120)
    requests_made = max(1, sum(len(samples) for samples in results.values()))
    cpu = {"server": (server.cpu_seconds() - server_cpu) / requests_made * 1000,
           "client": (time.process_time() - client_cpu) / requests_made * 1000}
    return results, time.monotonic() - start, cpu


def percentile(sorted_values, p):
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p))] * 1000


def summary(results, duration, cpu) -> dict:
    out = {"cpu": cpu}
    for route, samples in sorted(results.items()):
        times = sorted(t for t, _ in samples)
        out[route] = {"n": len(samples), "errors": sum(not ok for _, ok in samples),
                      "p50": percentile(times, 0.50), "p95": percentile(times, 0.95), "p99": percentile(times, 0.99)}
    everything = sorted(t for samples in results.values() for t, _ in samples)
    out["all"] = {"n": len(everything), "errors": sum(r["errors"] for key, r in out.items() if key != "cpu"),
                  "p50": percentile(everything, 0.5), "p95": percentile(everything, 0.95),
                  "p99": percentile(everything, 0.99), "rps": len(everything) / duration}
    return out


def show(name, stats):
    cpu = stats["cpu"]
    print(f"  {name}: {stats['all']['rps']:.0f} requests/s, {stats['all']['errors']} errors; CPU per request: "
          f"server {cpu['server']:.2f} ms, load generator {cpu['client']:.2f} ms")
    for route, s in stats.items():
        if route == "cpu":
            continue
        print(f"    {route:18} n={s['n']:6}  errors={s['errors']:4}  p50={s['p50']:7.1f} ms  "
              f"p95={s['p95']:7.1f} ms  p99={s['p99']:7.1f} ms")


def bench(database: str, server=None):
    folder = Path(tempfile.mkdtemp(prefix=f"panel-load-{database}-"))
    port = free_port()
    env = {"PANEL_INSTANCE_PATH": str(folder), "SECRET_KEY": "bench-load", "MARKETPLACE_URL": f"http://127.0.0.1:{port}/store",
           "SIGN_IN_LOCKOUT_SECONDS": "1"}
    if server:
        server.execute("CREATE DATABASE load_panel")
        env["DATABASE_URL"] = server.url("load_panel")
    database_url = env.get("DATABASE_URL") or f"sqlite:///{folder / 'panel.db'}"
    flask_cli(env, "db", "upgrade")
    flask_cli(env, "admin", "create", "admin", "--password", PASSWORD)
    for slug in SLUGS:
        flask_cli(env, "modules", "install-dir", str(ROOT / "panel" / "hub" / "sources" / slug))
    panel = Gunicorn("app:app", env, workers=4, port=port)
    try:
        cookies, token = sign_in(panel.url)
        requests.post(f"{panel.url}/marketplace/refresh", cookies=cookies, data={"csrf_token": token}, timeout=60)
        panel_stats = summary(*run_load(panel.url, cookies, token, panel))
    finally:
        panel.stop()
    bare = Gunicorn("bench._bare_app:app", {"BENCH_DATABASE_URL": database_url}, workers=4)
    try:
        bare_stats = summary(*run_load(bare.url, {}, "", bare))
    finally:
        bare.stop()
    print(f"{database}: {CLIENTS} clients for {SECONDS:.0f} s each, gunicorn 4 workers × 4 threads")
    show("panel", panel_stats)
    show("bare Flask", bare_stats)
    throughput = panel_stats["all"]["rps"] / bare_stats["all"]["rps"]
    p99 = panel_stats["all"]["p99"] / bare_stats["all"]["p99"]
    print(f"  panel/bare: throughput {throughput:.2f}× (goal ≥ 0.7×), p99 {p99:.2f}× (goal ≤ 1.5×), "
          f"errors {panel_stats['all']['errors']} (goal 0)")


def main():
    for database in DATABASES or ("sqlite", "postgresql"):
        if database == "postgresql":
            server = postgres()
            try:
                bench(database, server)
            finally:
                server.stop()
        else:
            bench(database)


if __name__ == "__main__":
    main()
