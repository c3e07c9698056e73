"""The htmx toggle with every module enabled, on one worker and on two workers taking turns, at 10 /
1,000 / 5,000 installed, against the separate bare Flask app of `bench/toggle.py`, all over loopback HTTP.

`bench/toggle.py` toggles on one worker, whose sidebar is always the one its previous toggle left.
Behind gunicorn an administrator's clicks land on whichever worker is free: each toggle then finds
the sidebar it keeps older than the one before the change, since another worker changed a module
since. Here two app objects on one instance folder and database stand for two workers, and the
toggles alternate between them. Figures: min/median/max over 3 runs of the median of each run;
ratios against the bare app's median.

    .venv/bin/python bench/toggle_workers.py [--quick]     (--quick: 10 and 1,000 modules)
"""

import random
import statistics
import sys
import time

from _common import open_app, spread, timed
from _scale import bare_app, enable_every_module, grow_modules, panel_with_modules, serve, signed_in_session

QUICK = "--quick" in sys.argv
SIZES = (10, 1_000) if QUICK else (10, 1_000, 5_000)
RUNS, TOGGLES = 3, 40


def main():
    import requests

    app, url, server = panel_with_modules()
    instance = app.instance_path
    second, _ = open_app(instance)
    second_url, second_server = serve(second)
    bare, engine = bare_app(app.config["SQLALCHEMY_DATABASE_URI"], "")
    bare_url, bare_server = serve(bare)
    first_session, second_session = signed_in_session(url), signed_in_session(second_url)
    bare_session = requests.Session()
    print(f"{'enabled':>8} {'one worker ms':>16} {'two workers ms':>16} {'bare app ms':>14} "
          f"{'one/bare':>9} {'two/bare':>9}")
    have, states, rng = 0, {}, random.Random(11)
    for size in SIZES:
        grow_modules(app, have, size)
        enable_every_module(app)
        states.update({f"mod_{i:05d}": "enabled" for i in range(have, size)})
        have = size
        slugs = sorted(states)

        def toggle(at: str, session) -> float:
            slug = rng.choice(slugs)
            action = "disable" if states[slug] == "enabled" else "enable"
            start = time.perf_counter()
            response = session.post(f"{at}/modules/{slug}/{action}")
            took = time.perf_counter() - start
            assert response.status_code == 200, response.text[:300]
            states[slug] = "enabled" if action == "enable" else "disabled"
            return took

        for session, at in ((first_session, url), (second_session, second_url)):
            session.get(f"{at}/modules")  # each worker's sidebar as of now
        one, two, base = [], [], []
        for _ in range(RUNS):
            run_one = [toggle(url, first_session) for _ in range(TOGGLES)]
            run_two = [toggle(url, first_session) if i % 2 else toggle(second_url, second_session)
                       for i in range(TOGGLES)]
            run_base = []
            for _ in range(TOGGLES):
                other = rng.choice(slugs)
                run_base.append(timed(lambda: bare_session.post(f"{bare_url}/bare/{other}/{states[other]}")))
            one.append(statistics.median(run_one))
            two.append(statistics.median(run_two))
            base.append(statistics.median(run_base))
        bare_ms = statistics.median(base)
        print(f"{size:>8} {spread(one):>16} {spread(two):>16} {spread(base):>14} "
              f"{statistics.median(one) / bare_ms:8.2f}x {statistics.median(two) / bare_ms:8.2f}x", flush=True)
    for running in (server, second_server, bare_server):
        running.shutdown()
    engine.dispose()


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"total {time.perf_counter() - started:.0f} s")
