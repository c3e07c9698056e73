"""Two panel nodes (gunicorn, 2 workers each, own instance folders) on one PostgreSQL.

1. The time from an install finished on node A (from the store, then enabled there) to the first
   page of that module served by node B, which has to unpack it from the database first.
2. N toggles (default 1,000) of one module on node A, each followed at once by a read of its page
   on node B through a fresh connection: a read that does not show the state just set is stale
   (goal: 0).

    .venv/bin/python bench/nodes.py [TOGGLES]
"""

import sys
import tempfile
import time
from pathlib import Path

import requests

from _servers import PASSWORD, Gunicorn, flask_cli, free_port, postgres, sign_in

TOGGLES = int(sys.argv[1]) if len(sys.argv) > 1 else 1000


def htmx(url, cookies, token):
    return requests.post(url, cookies=cookies, headers={"HX-Request": "true", "X-CSRFToken": token}, timeout=30)


def main():
    server = postgres()
    nodes = []
    try:
        server.execute("CREATE DATABASE bench_panel")
        server.execute("CREATE DATABASE bench_store")
        folder = Path(tempfile.mkdtemp(prefix="panel-nodes-"))
        shared = {"DATABASE_URL": server.url("bench_panel"), "SECRET_KEY": "bench-nodes",
                  "HUB_DATABASE_URL": server.url("bench_store"), "HUB_KEY_PATH": str(folder / "store-key.pem")}
        for name in ("a", "b"):
            port = free_port()
            env = {**shared, "PANEL_INSTANCE_PATH": str(folder / name), "MARKETPLACE_URL": f"http://127.0.0.1:{port}/store"}
            nodes.append(Gunicorn("app:app", env, workers=2, port=port))
        a, b = nodes
        flask_cli(a.env, "admin", "create", "admin", "--password", PASSWORD)
        cookies_a, token_a = sign_in(a.url)
        cookies_b, _ = sign_in(b.url)

        # 1. install on A, enable on A, then the first page served by B
        flask_cli(a.env, "modules", "install", "hello", "--yes")
        htmx(f"{a.url}/modules/hello/enable", cookies_a, token_a).raise_for_status()
        start = time.perf_counter()
        polls = 0
        while polls < 1000:
            polls += 1
            if requests.get(f"{b.url}/m/hello/", cookies=cookies_b, headers={"Connection": "close"},
                            timeout=30).status_code == 200:
                break
        first_page = time.perf_counter() - start

        # 2. toggles on A, each read at once on B
        stale = 0
        toggle_times, read_times = [], []
        for i in range(TOGGLES):
            action, expected = ("disable", 404) if i % 2 == 0 else ("enable", 200)
            t0 = time.perf_counter()
            htmx(f"{a.url}/modules/hello/{action}", cookies_a, token_a).raise_for_status()
            t1 = time.perf_counter()
            status = requests.get(f"{b.url}/m/hello/", cookies=cookies_b, headers={"Connection": "close"},
                                  allow_redirects=False, timeout=30).status_code
            read_times.append(time.perf_counter() - t1)
            toggle_times.append(t1 - t0)
            stale += status != expected
        toggle_times.sort()
        read_times.sort()
        print(f"install finished and enabled on A -> first page served by B: {first_page * 1000:.0f} ms "
              f"({polls} request{'s' if polls > 1 else ''} on B; B unpacked the package from the database)")
        print(f"{TOGGLES} toggles on A, each read at once on B: {stale} stale reads (goal 0); "
              f"toggle median {toggle_times[len(toggle_times) // 2] * 1000:.1f} ms, "
              f"read on B median {read_times[len(read_times) // 2] * 1000:.1f} ms")
    finally:
        for node in nodes:
            node.stop()
        server.stop()


if __name__ == "__main__":
    main()
