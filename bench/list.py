"""/modules at 10 / 1,000 / 5,000 / 20,000 installed modules (folders on disk, a 60,000 catalog stored),
first page cold (kept pages, rendered cards and card shapes forgotten) and warm, against a separate bare Flask app
that selects the same 50 visible rows and renders them with a plain Jinja card, cold (every row
rendered) and warm (each row's HTML kept, keyed by the row, as the panel keeps its cards) — all over
loopback HTTP. Cold, warm, bare cold and bare warm requests take turns, so a load that comes and goes on
the machine falls on all four alike. Also prints the page size and the process's memory. Figures:
min/median/max over 3 runs of each run's median; the ratios compare the medians of the runs.
Goal at 20,000: ≤ 2× the bare render, and the same within noise at 1,000 and 20,000.

What the bare render does not do, and the panel's page must (not padded into the baseline): sign-in,
session and CSRF token, the license check, the layout with its sidebar, the counts and the pager, what
the catalog, the license and the update policy say of each card, and the translation of every word.

    .venv/bin/python bench/list.py [--quick] [--enabled=N]
    (--quick: 10 and 1,000 modules, a 10,000 catalog; --enabled=N: every Nth module enabled, so the
    sidebar lists them; without it every module is disabled and the sidebar is empty)
"""

import statistics
import sys
import time

from _common import rss_mb, spread, timed
from _scale import bare_app, grow_modules, no_new_cookie, panel_with_modules, serve, signed_in_session, store_catalog

QUICK = "--quick" in sys.argv
SIZES = (10, 1_000) if QUICK else (10, 1_000, 5_000, 20_000)
ENABLED_EVERY = next((int(arg.split("=", 1)[1]) for arg in sys.argv if arg.startswith("--enabled=")), 0)
CATALOG = 10_000 if QUICK else 60_000
RUNS, ROUNDS = 3, 15

CARD = """<div class="col" id="module-{{ m.slug }}" data-state="{{ m.state }}"><article class="card">
<h2>{{ m.name }}</h2><div>v{{ m.version }} · {{ m.category }} · {{ m.author }}</div>
<span class="badge">{{ m.state }}</span><p>{{ m.description }}</p>
<form method="post" action="/modules/{{ m.slug }}/enable"><button>Enable</button></form></article></div>"""
CARDS = '<!doctype html><html><body><div class="row">\n{% for m in rows %}' + CARD + "\n{% endfor %}</div></body></html>"
PAGE = '<!doctype html><html><body><div class="row">\n{{ cards }}</div></body></html>'


def with_warm_list(bare, engine):
    """The bare app's warm list: the same rows, each row's HTML rendered once and kept by its values."""
    from flask import render_template_string
    from markupsafe import Markup
    from sqlalchemy import text

    rendered = {}

    @bare.get("/bare/list-warm")
    def warm_listing():
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT slug, name, version, category, author, description, state FROM modules "
                                     "ORDER BY lower(name), slug LIMIT 50")).all()
        html = []
        for row in rows:
            card = rendered.get(tuple(row))
            if card is None:
                card = rendered[tuple(row)] = render_template_string(CARD, m=row)
            html.append(card)
        return render_template_string(PAGE, cards=Markup("\n".join(html)))


def enable_every(app, every: int) -> None:
    """Every `every`th module enabled, as an enable does it for the workers (the generation moves)."""
    from sqlalchemy import text

    from panel.extensions import db
    from panel.runtime.registry import bump_generation

    with app.app_context():
        db.session.execute(text("UPDATE modules SET state = 'enabled' WHERE position % :every = 0"), {"every": every})
        bump_generation()
        db.session.commit()


def main():
    import requests

    from panel.ui import cards
    from panel.ui.page_shells import page_shells

    app, url, server = panel_with_modules()
    store_catalog(app, CATALOG)
    bare, engine = bare_app(app.config["SQLALCHEMY_DATABASE_URI"], CARDS)
    with_warm_list(bare, engine)
    bare_url, bare_server = serve(bare)
    session, bare_session = signed_in_session(url), requests.Session()
    session.headers.pop("HX-Request")  # the whole page, as a browser's first visit
    print(f"{'installed':>9} {'cold ms':>16} {'warm ms':>16} {'bare cold ms':>16} {'bare warm ms':>16} "
          f"{'cold/bare':>9} {'warm/bare':>9} {'page KB':>8} {'memory MB':>10}")
    have = 0
    for size in SIZES:
        grow_modules(app, have, size)
        if ENABLED_EVERY:
            enable_every(app, ENABLED_EVERY)
        have = size

        def page():
            response = session.get(f"{url}/modules")
            assert response.status_code == 200
            no_new_cookie(response)
            return response

        def cold():
            cards.forget_rendered()
            with app.app_context():
                page_shells().clear()  # a fresh worker keeps no page either
            page()

        def bare_page(path):
            response = bare_session.get(f"{bare_url}{path}")
            assert response.status_code == 200

        kinds = {"cold": cold, "warm": page, "bare cold": lambda: bare_page("/bare/list"),
                 "bare warm": lambda: bare_page("/bare/list-warm")}
        runs = {kind: [] for kind in kinds}
        page()  # the first request after the generation moved builds the sidebar again (not timed)
        for _ in range(RUNS):
            samples = {kind: [] for kind in kinds}
            for _ in range(ROUNDS):
                for kind, call in kinds.items():
                    samples[kind].append(timed(call))
            for kind in kinds:
                runs[kind].append(statistics.median(samples[kind]))
        median = {kind: statistics.median(runs[kind]) for kind in kinds}
        print(f"{size:>9} {spread(runs['cold']):>16} {spread(runs['warm']):>16} {spread(runs['bare cold']):>16} "
              f"{spread(runs['bare warm']):>16} {median['cold'] / median['bare cold']:8.2f}x "
              f"{median['warm'] / median['bare warm']:8.2f}x {len(page().content) / 1024:8.1f} {rss_mb():10.0f}",
              flush=True)
    server.shutdown(), bare_server.shutdown(), engine.dispose()


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"total {time.perf_counter() - started:.0f} s")
