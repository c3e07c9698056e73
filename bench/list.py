"""/modules at 10 / 1,000 / 5,000 / 20,000 installed modules (folders on disk, a 60,000 catalog stored),
first page cold (card fragments cleared) and warm, against a separate bare Flask app that selects the
same 50 visible rows and renders them with a plain Jinja card — both over loopback HTTP. Also prints
the page size and the process's memory. Figures: min/median/max over 3 runs of each run's median.
Goal at 20,000: ≤ 2× the bare render, and the same within noise at 1,000 and 20,000.

    .venv/bin/python bench/list.py [--quick]     (--quick: 10 and 1,000 modules, a 10,000 catalog)
"""

import statistics
import sys
import time

from _common import rss_mb, spread, timed
from _scale import bare_app, grow_modules, panel_with_modules, serve, signed_in_session, store_catalog

QUICK = "--quick" in sys.argv
SIZES = (10, 1_000) if QUICK else (10, 1_000, 5_000, 20_000)
CATALOG = 10_000 if QUICK else 60_000
RUNS, ROUNDS = 3, 15

CARDS = """<!doctype html><html><body><div class="row">
{% for m in rows %}<div class="col" id="module-{{ m.slug }}" data-state="{{ m.state }}"><article class="card">
<h2>{{ m.name }}</h2><div>v{{ m.version }} · {{ m.category }} · {{ m.author }}</div>
<span class="badge">{{ m.state }}</span><p>{{ m.description }}</p>
<form method="post" action="/modules/{{ m.slug }}/enable"><button>Enable</button></form></article></div>
{% endfor %}</div></body></html>"""


def main():
    import requests

    from panel.ui import cards

    app, url, server = panel_with_modules()
    store_catalog(app, CATALOG)
    bare, engine = bare_app(app.config["SQLALCHEMY_DATABASE_URI"], CARDS)
    bare_url, bare_server = serve(bare)
    session, bare_session = signed_in_session(url), requests.Session()
    session.headers.pop("HX-Request")  # the whole page, as a browser's first visit
    print(f"{'installed':>9} {'cold ms':>18} {'warm ms':>18} {'bare ms':>18} {'cold/bare':>9} {'warm/bare':>9} "
          f"{'page KB':>8} {'memory MB':>10}")
    have = 0
    for size in SIZES:
        grow_modules(app, have, size)
        have = size

        def page():
            response = session.get(f"{url}/modules")
            assert response.status_code == 200
            return response

        def cold():
            cards.forget_rendered()
            page()
        cold_runs, warm_runs, bare_runs = [], [], []
        for _ in range(RUNS):
            cold_runs.append(statistics.median(timed(cold) for _ in range(ROUNDS)))
            warm_runs.append(statistics.median(timed(page) for _ in range(ROUNDS)))
            bare_runs.append(statistics.median(timed(lambda: bare_session.get(f"{bare_url}/bare/list"))
                                               for _ in range(ROUNDS)))
        b = statistics.median(bare_runs)
        print(f"{size:>9} {spread(cold_runs):>18} {spread(warm_runs):>18} {spread(bare_runs):>18} "
              f"{statistics.median(cold_runs) / b:8.2f}x {statistics.median(warm_runs) / b:8.2f}x "
              f"{len(page().content) / 1024:8.1f} {rss_mb():10.0f}", flush=True)
    server.shutdown(), bare_server.shutdown(), engine.dispose()


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"total {time.perf_counter() - started:.0f} s")
