"""A fresh worker's first module page with 10 / 1,000 / 5,000 modules enabled, against the same page
served again by that worker, in the same run.

Each module is a folder with its module.json and a 9 KB `__init__.py` (forty small functions and a page),
compiled as an install compiles it, and its row, all enabled. A fresh worker (another app object on the
same instance folder and database) signs in and asks for one random module's page: it imports that module and no other, so its first
page should cost about what a page costs at any number of modules. Figures: min/median/max over 3
fresh workers at each size, the ratio of the medians, and the modules each worker had imported.

    .venv/bin/python bench/module_page.py [--quick]     (--quick: 10 and 1,000 modules)
"""

import random
import statistics
import sys
import time

from _common import open_app, panel_app, spread, timed
from _scale import enable_every_module, grow_modules

QUICK = "--quick" in sys.argv
SIZES = (10, 1_000) if QUICK else (10, 1_000, 5_000)
WORKERS = 3
HELPER = ("def helper_{n}(count, step=2):\n    '''A module's ordinary code: a loop and a literal.'''\n"
          "    total = 0\n    for i in range(count):\n        total += i * step\n"
          "    return {{'total': total, 'args': [count, step], 'name': 'helper_{n}'}}\n\n")
CODE = "".join(HELPER.format(n=n) for n in range(40)) + (
    "def setup(api):\n    @api.page('/')\n    def index():\n        return '<p>' + str(helper_3(10)['total']) + '</p>'\n")


def enable_all(app, folder_root, start: int, stop: int) -> None:
    from panel.runtime.bytecode import precompile

    for i in range(start, stop):
        (folder_root / f"mod_{i:05d}" / "__init__.py").write_text(CODE, encoding="utf-8")
        precompile(folder_root / f"mod_{i:05d}")  # as an install compiles it
    enable_every_module(app)


def main():
    from pathlib import Path

    app, _, instance = panel_app()
    root = Path(app.config["MODULES_PATH"])
    print(f"module code: {len(CODE)} bytes each")
    print(f"{'enabled':>8} {'first page ms':>20} {'same page again ms':>20} {'ratio':>6} {'imported':>9}")
    have, rng = 0, random.Random(3)
    for size in SIZES:
        grow_modules(app, have, size)
        enable_all(app, root, have, size)
        have = size
        first, again, imported = [], [], []
        for _ in range(WORKERS):
            worker, client = open_app(instance)
            slug = f"mod_{rng.randrange(size):05d}"

            def page():
                response = client.get(f"/m/{slug}/")
                assert response.status_code == 200, response.status_code

            first.append(timed(page))
            again.append(statistics.median(timed(page) for _ in range(20)))
            imported.append(len(worker.extensions["module_registry"].loaded))
        ratio = statistics.median(first) / statistics.median(again)
        print(f"{size:>8} {spread(first):>20} {spread(again):>20} {ratio:5.2f}x {max(imported):>9}", flush=True)


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"total {time.perf_counter() - started:.0f} s")
