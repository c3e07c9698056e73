"""What each request of bench/load.py's mix costs the database on PostgreSQL, against the bare app
(bench/_bare_app.py) on the same database in the same run: round trips (counted on the wire with
libpq's trace, BEGIN and ROLLBACK included) and the CPU time of every PostgreSQL process per request;
and, for scale, the CPU time of the app's own process (test client included).

On the 2-core machine the load generator, PostgreSQL and the workers share, PostgreSQL's CPU is
throughput the workers do not get; this measures it without the noise of a load run. Requests run
one after the other through each app's test client (the panel signed in, two modules installed,
a 30-module catalog stored), after a warm-up.

    .venv/bin/python bench/db_cost.py [REQUESTS=1000]
"""

import glob
import os
import re
import statistics
import sys
import tempfile
import time

from _servers import ROOT, postgres

REQUESTS = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
WARM_UP = 20  # psycopg prepares a statement the sixth time a connection runs it
TICK = os.sysconf("SC_CLK_TCK")


def server_cpu(server) -> float:
    """CPU seconds used so far by the PostgreSQL server and its backends (children of the postmaster)."""
    total = 0
    for path in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(path) as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(path.split("/")[2]) == server.pid or int(fields[1]) == server.pid:
            total += int(fields[11]) + int(fields[12])
    return total / TICK


class Trace:
    """libpq's trace of every connection an engine opens from now on; `round_trips()` since `clear()`."""

    def __init__(self, engine):
        from psycopg import pq
        from sqlalchemy import event

        self.fd, self.path = tempfile.mkstemp(prefix="db-cost-trace-")

        def traced(dbapi_connection, connection_record):
            dbapi_connection.pgconn.trace(self.fd)
            dbapi_connection.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)

        engine.dispose()
        event.listen(engine, "connect", traced)

    def clear(self) -> None:
        os.ftruncate(self.fd, 0)
        os.lseek(self.fd, 0, os.SEEK_SET)

    def round_trips(self) -> int:
        with open(self.path, encoding="utf-8", errors="replace") as fh:
            return len(re.findall(r"^B\t\d+\tReadyForQuery\t", fh.read(), re.MULTILINE))


def measure(server, trace, routes) -> dict:
    found = {}
    for name, call in routes.items():
        for i in range(WARM_UP):
            assert call(i).status_code == 200, name
        trace.clear()
        call(WARM_UP)
        trips = trace.round_trips()
        started, own = server_cpu(server), time.process_time()
        for i in range(REQUESTS):
            call(WARM_UP + 1 + i)
        found[name] = (trips, (server_cpu(server) - started) / REQUESTS * 1000,
                       (time.process_time() - own) / REQUESTS * 1000)
    return found


def panel_routes(app, client):
    headers = {"HX-Request": "true", "X-CSRFToken": client.csrf}
    return {"GET /modules": lambda i: client.get("/modules"),
            "GET /marketplace": lambda i: client.get("/marketplace"),
            "POST toggle": lambda i: client.post(f"/modules/hello/{'enable' if i % 2 else 'disable'}", headers=headers)}


def main():
    server = postgres()
    try:
        server.execute("CREATE DATABASE db_cost")
        os.environ["DATABASE_URL"] = os.environ["BENCH_DATABASE_URL"] = server.url("db_cost")
        from _common import panel_app
        from _scale import store_catalog

        from panel.extensions import db
        from panel.installer import install_dir

        app, client, _ = panel_app()
        with app.app_context():
            for slug in ("hello", "notes"):
                install_dir(ROOT / "panel" / "hub" / "sources" / slug, "bench")
        store_catalog(app, 30)
        folder = app.config["MODULES_PATH"]  # as in a steady run: the folder did not change just now
        a_minute_ago = os.stat(folder).st_mtime_ns - 60 * 10**9
        os.utime(folder, ns=(a_minute_ago, a_minute_ago))
        with app.app_context():
            trace = Trace(db.engine)
        panel = measure(server, trace, panel_routes(app, client))  # each request in its own app context

        from bench._bare_app import app as bare_app
        from bench._bare_app import engine as bare_engine
        bare_client = bare_app.test_client()
        bare = measure(server, Trace(bare_engine), {
            "GET /modules": lambda i: bare_client.get("/modules"),
            "GET /marketplace": lambda i: bare_client.get("/marketplace"),
            "POST toggle": lambda i: bare_client.post(f"/modules/hello/{'enable' if i % 2 else 'disable'}")})
    finally:
        server.stop()
    print(f"PostgreSQL cost per request, {REQUESTS} requests per route, one at a time:")
    for name in panel:
        (trips, cpu, own), (bare_trips, bare_cpu, bare_own) = panel[name], bare[name]
        print(f"  {name:16} round trips {trips:2} (bare {bare_trips})   PostgreSQL CPU {cpu:5.2f} ms "
              f"(bare {bare_cpu:5.2f} ms, {cpu / bare_cpu:4.2f}×)   app process CPU {own:5.2f} ms "
              f"(bare {bare_own:5.2f} ms, {own / bare_own:4.2f}×)")
    ratios = [panel[name][1] / bare[name][1] for name in panel]
    print(f"  PostgreSQL CPU, panel/bare, median over the routes: {statistics.median(ratios):.2f}×")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    started = time.monotonic()
    main()
    print(f"  ({time.monotonic() - started:.0f} s)")
