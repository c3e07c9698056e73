"""The htmx toggle at 10 / 1,000 / 5,000 / 20,000 installed modules with a 60,000-module catalog stored,
against a separate bare Flask app committing the same change, both over loopback HTTP.

Each round toggles a random module (enable or disable, as its state calls for) in the panel — signed
in, CSRF, audit, the module's code loaded or unloaded, the card, its sidebar entry and the counts out
of band — and flips a random module's state in the bare app, committing the same change (the module's
row, its audit entry and the change counter, three statements in one transaction; a small answer). All
modules start disabled, so at 1,000 and more a random toggle is nearly always a first enable. The
panel's session cookie is sent as a plain header (see `_scale.signed_in_session`). Figures:
min/median/max over 3 runs of the median of each run, and the largest answer. Goals: ≤ 1.5× the bare
app, answer ≤ 4 KB at any size.

    .venv/bin/python bench/toggle.py [--quick]     (--quick: 10 and 1,000 modules, a 10,000 catalog)
"""

import random
import statistics
import sys
import time

from _common import rss_mb, spread, timed
from _scale import bare_app, grow_modules, no_new_cookie, panel_with_modules, serve, signed_in_session, store_catalog

QUICK = "--quick" in sys.argv
SIZES = (10, 1_000) if QUICK else (10, 1_000, 5_000, 20_000)
CATALOG = 10_000 if QUICK else 60_000
RUNS, TOGGLES = 3, 40


def main():
    import requests

    app, url, server = panel_with_modules()
    store_catalog(app, CATALOG)
    bare, engine = bare_app(app.config["SQLALCHEMY_DATABASE_URI"], "")
    bare_url, bare_server = serve(bare)
    session, bare_session = signed_in_session(url), requests.Session()
    print(f"catalog stored: {CATALOG} modules; process memory {rss_mb():.0f} MB")
    print(f"{'installed':>9} {'panel toggle ms':>20} {'bare app ms':>18} {'ratio':>6} {'answer max':>11}")
    have, states, rng = 0, {}, random.Random(7)
    for size in SIZES:
        grow_modules(app, have, size)
        states.update({f"mod_{i:05d}": "disabled" for i in range(have, size)})
        have = size
        slugs = sorted(states)
        ours, base, largest = [], [], 0
        for _ in range(RUNS):
            run_ours, run_base = [], []
            for _ in range(TOGGLES):
                slug = rng.choice(slugs)
                action = "disable" if states[slug] == "enabled" else "enable"

                def toggle():
                    response = session.post(f"{url}/modules/{slug}/{action}")
                    assert response.status_code == 200, response.text[:300]
                    return response
                start = time.perf_counter()
                response = toggle()
                run_ours.append(time.perf_counter() - start)
                largest = max(largest, len(response.content))
                no_new_cookie(response)
                states[slug] = "enabled" if action == "enable" else "disabled"
                other = rng.choice(slugs)
                run_base.append(timed(lambda: bare_session.post(f"{bare_url}/bare/{other}/{states[other]}")))
            ours.append(statistics.median(run_ours))
            base.append(statistics.median(run_base))
        ratio = statistics.median(ours) / statistics.median(base)
        print(f"{size:>9} {spread(ours):>20} {spread(base):>18} {ratio:5.2f}x {largest:>9} B", flush=True)
    print(f"process memory after: {rss_mb():.0f} MB")
    server.shutdown(), bare_server.shutdown(), engine.dispose()


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"total {time.perf_counter() - started:.0f} s")
