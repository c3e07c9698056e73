"""The marketplace catalog at 1,000 / 10,000 / 60,000 modules, each figure beside its baseline at that size.

- refresh: `catalog.refresh()` from the loopback hub with no stored version (HTTP, validate, write the
  rows as a new generation and rebuild the search index in one transaction) vs a bare
  `requests.get(...).json()` of the same document. Goal at 60,000: ≤ 2 s. A thread deletes the replaced
  generation after the refresh returns, then on SQLite copies the write-ahead log into the database
  file: how long that thread still ran is the "then clean-up (bg)" line.
- change: a refresh after one module changed in the store (`since`: only the change travels and is
  written) vs the same bare GET of the full catalog; and the ETag/304 path.
- fresh worker (a separate process on the same database, as a new gunicorn worker): its first
  /marketplace page, then page and search, vs a bare Flask app rendering the same 24 rows through the
  same test client; memory before its first page and after browsing (page 1, 10 pages, 10 searches).
  Goals at 60,000: first page ≤ 100 ms, page and search ≤ 30 ms, memory ≤ +20 MB. The process that ran the
  refreshes prints what it kept as well (the hub's own copy of the catalog was built before).
Figures are min/median/max in ms.

    .venv/bin/python bench/catalog.py [--quick]     (--quick: 1,000 and 10,000 only)
"""

import gc
import json
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time

from _common import ROOT, open_app, panel_app, rss_mb, spread, timed

SIZES = (1_000, 10_000) if "--quick" in sys.argv else (1_000, 10_000, 60_000)
ROUNDS = 3
BROWSE = 10

CARD = """{% for e in rows %}<div class="col"><article class="card"><i class="bi bi-{{ e.icon }}"></i>
<h2><a href="/marketplace/{{ e.slug }}">{{ e.name }}</a></h2><span>v{{ e.version }}</span> {{ e.author }} {{ e.category }}
<span>{{ "Paid" if e.paid else "Free" }}</span><p>{{ e.summary }}</p>
<form method="post" action="/marketplace/{{ e.slug }}/install"><button>Install</button></form></article></div>{% endfor %}"""


def bare_app(rows):
    """A bare Flask app that renders the same rows with a template, nothing else."""
    from flask import Flask, render_template_string

    bare = Flask("bare")

    @bare.get("/page")
    def page():
        return render_template_string("<!doctype html><title>x</title><main>" + CARD + "</main>", rows=rows)

    return bare.test_client()


def worker(instance: str, size: int) -> None:
    """A fresh worker: its first marketplace page, then browsing; prints one JSON line."""
    app, client = open_app(instance)
    app.config.update(MARKETPLACE_URL=sys.argv[4], CATALOG_TTL_SECONDS=10**9)
    before = rss_mb()

    def get(path):
        response = client.get(path)
        assert response.status_code == 200 and "mp-count" in response.get_data(as_text=True), path
    first = timed(lambda: get("/marketplace"))
    pages = max(1, size // 24)
    rng = random.Random(size)
    page = [timed(lambda: get(f"/marketplace?page={rng.randint(1, pages)}")) for _ in range(BROWSE)]
    search = [timed(lambda: get(f"/marketplace?q=module+{rng.randint(0, size - 1):05d}&price=free"))
              for _ in range(BROWSE // 2)]
    search += [timed(lambda: get(f"/marketplace?q=vendor+{rng.randint(0, 49)}&category=Tools"))
               for _ in range(BROWSE // 2)]
    print(json.dumps({"first": first, "page": page, "search": search, "before": before, "after": rss_mb()}))


def main():
    import requests
    from werkzeug.serving import make_server

    from panel.extensions import db
    from panel.hub import create_hub
    from panel.marketplace import bulk_writes, catalog
    from panel.models import CatalogCache
    from sqlalchemy import update

    print(f"{'modules':>8} {'what':<22} {'ours min/med/max ms':>24} {'baseline min/med/max ms':>26} {'ratio':>6}")
    for size in SIZES:
        app, client, instance = panel_app()
        hub = create_hub({"HUB_INSTANCE_PATH": str(instance / "hub"), "HUB_SYNTHETIC_MODULES": size - 5})
        server = make_server("127.0.0.1", 0, hub, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_port}"
        app.config.update(MARKETPLACE_URL=url, CATALOG_TTL_SECONDS=10**9)
        store = hub.extensions["hub_store"]
        requests.get(f"{url}/api/modules", timeout=60)  # the hub builds its catalog once

        def line(what, ours, base=None):
            ratio = f"{statistics.median(ours) / statistics.median(base):5.2f}x" if base else ""
            print(f"{size:>8} {what:<22} {spread(ours):>24} {spread(base) if base else '':>26} {ratio:>6}", flush=True)

        def full_refresh():
            with app.app_context():
                assert catalog.refresh().status == "updated"

        def forget_version():
            """No stored version: the whole catalog comes and replaces the stored one (as from a store
            that does not know `since`), outside the timing; deleting the head row, as this bench
            did, timed a cascade delete no refresh makes."""
            with app.app_context():
                db.session.execute(update(CatalogCache).values(etag=None))
                db.session.commit()

        bare_get = [timed(lambda: requests.get(f"{url}/api/modules", timeout=60).json()) for _ in range(ROUNDS)]
        gc.collect()
        unrefreshed = rss_mb()
        full_refresh()  # the first catalog of this panel: its head row made once
        bulk_writes.wait_for_background()
        fulls, checkpoints = [], []
        for _ in range(ROUNDS):
            forget_version()
            fulls.append(timed(full_refresh))
            # The replaced rows deleted and the log copied into the database file by a thread after the
            # refresh has returned: waited for here, so the next round does not share the CPU with it,
            # and shown on its own line.
            checkpoints.append(timed(bulk_writes.wait_for_background))
        line("refresh (full)", fulls, bare_get)
        line("  then clean-up (bg)", checkpoints, bare_get)
        gc.collect()
        print(f"{size:>8} {'refreshing process':<22} +{rss_mb() - unrefreshed:.1f} MB after 4 full refreshes "
              "(what a worker that ran them keeps)", flush=True)

        def one_change(i):
            with app.app_context():
                assert catalog.refresh().status == "updated"
        changed = []
        for i in range(ROUNDS):  # the store rebuilds its catalog first: its cost, not the panel's
            store.set_extra([{"slug": f"changed_{i}", "name": f"Changed {i}", "version": "1.0.0"}])
            store.catalog()
            changed.append(timed(lambda i=i: one_change(i)))
        line("refresh (1 changed)", changed, bare_get)
        with app.app_context():
            line("refresh (304)", [timed(catalog.refresh) for _ in range(ROUNDS)], bare_get)
            rows = catalog.browse(catalog.current_catalog(), per_page=24).entries
        bare = bare_app(rows)
        bare_page = [timed(lambda: bare.get("/page")) for _ in range(BROWSE)]

        runs = []
        for _ in range(ROUNDS):
            out = subprocess.run([sys.executable, __file__, "--worker", str(instance), str(size), url],
                                 capture_output=True, text=True, cwd=ROOT, timeout=300)
            if out.returncode:
                sys.exit(out.stderr[-2000:])
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        line("fresh worker 1st page", [r["first"] for r in runs], bare_page)
        line("page", [statistics.median(r["page"]) for r in runs], bare_page)
        line("search", [statistics.median(r["search"]) for r in runs], bare_page)
        grew = [r["after"] - r["before"] for r in runs]
        print(f"{size:>8} {'worker memory':<22} fresh {statistics.median([r['before'] for r in runs]):.0f} MB, "
              f"after browsing +{min(grew):.1f}/{statistics.median(grew):.1f}/{max(grew):.1f} MB", flush=True)
        server.shutdown()
        shutil.rmtree(instance, ignore_errors=True)  # a 60,000-module catalog takes 100 MB of disk


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker(sys.argv[2], int(sys.argv[3]))
    else:
        started = time.perf_counter()
        main()
        print(f"total {time.perf_counter() - started:.0f} s")
