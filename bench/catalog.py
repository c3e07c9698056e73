"""A 10,000-module catalog: refresh from the loopback hub, and the /marketplace page, each against a baseline.

- refresh: `catalog.refresh()` (HTTP via the client, validate every entry, store in catalog_cache)
  vs a bare `requests.get(...).json()` of the same document. Goal: ≤ 2 s.
- page: `GET /marketplace` (signed in, catalog read from the database/memory, filter, page, render)
  vs rendering the same 24 rows with a bare Jinja template. Goal: ≤ 50 ms.
- search: `GET /marketplace?q=…` (active search over all 10,000 entries) vs the same baseline.
Run: .venv/bin/python bench/catalog.py
"""

import statistics
import threading
import time

from _common import median_ms, panel_app, timed

MODULES = 10_000
ROUNDS_REFRESH = 5
ROUNDS_PAGE = 30

BASELINE_TEMPLATE = """
{% for e in rows %}<div class="col"><article class="card"><i class="bi bi-{{ e.icon }}"></i>
<h2><a href="/marketplace/{{ e.slug }}">{{ e.name }}</a></h2><span>v{{ e.version }}</span> {{ e.author }} {{ e.category }}
<span>{{ "Paid" if e.paid else "Free" }}</span><p>{{ e.summary }}</p>
<form method="post" action="/marketplace/{{ e.slug }}/install"><button>Install</button></form></article></div>{% endfor %}
"""


def main():
    import jinja2
    import requests
    from werkzeug.serving import make_server

    from panel.extensions import db
    from panel.hub import create_hub
    from panel.marketplace import catalog
    from panel.models import CatalogCache

    app, client, instance = panel_app()
    hub = create_hub({"HUB_INSTANCE_PATH": str(instance / "hub"), "HUB_SYNTHETIC_MODULES": MODULES})
    server = make_server("127.0.0.1", 0, hub, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    app.config.update(MARKETPLACE_URL=url, CATALOG_TTL_SECONDS=10**9)
    body = requests.get(f"{url}/api/modules", timeout=30).content  # warm the hub's cached catalog
    print(f"catalog: {MODULES + 5} modules, {len(body) / 1e6:.1f} MB of JSON")

    def baseline_fetch():
        requests.get(f"{url}/api/modules", timeout=30).json()

    def refresh():
        with app.app_context():
            db.session.query(CatalogCache).delete()  # no ETag: a full fetch every round
            db.session.commit()
            assert catalog.refresh().status == "updated"

    base = [timed(baseline_fetch) for _ in range(ROUNDS_REFRESH)]
    ours = [timed(refresh) for _ in range(ROUNDS_REFRESH)]
    with app.app_context():
        not_modified = [timed(catalog.refresh) for _ in range(ROUNDS_REFRESH)]
    print(f"refresh:  {median_ms(ours):8.1f} ms  vs bare GET+json {median_ms(base):7.1f} ms  "
          f"ratio {statistics.median(ours) / statistics.median(base):5.2f}x  (goal ≤ 2000 ms)  "
          f"| 304 path {median_ms(not_modified):.1f} ms")

    with app.app_context():
        rows = catalog.browse(catalog.current_catalog(), {}, per_page=24).entries
        search_rows = catalog.browse(catalog.current_catalog(), {}, query="module 0999", per_page=24).entries
    template = jinja2.Environment(autoescape=True).from_string(BASELINE_TEMPLATE)

    def page(path):
        def call():
            response = client.get(path)
            assert response.status_code == 200, response.status_code
        return call

    first = timed(page("/marketplace"))  # loads the catalog into this process's memory once
    for label, path, baseline_rows in (("page", "/marketplace", rows),
                                       ("search", "/marketplace?q=module+0999&price=free", search_rows),
                                       ("page 300", "/marketplace?page=300", rows)):
        base = [timed(lambda: template.render(rows=baseline_rows)) for _ in range(ROUNDS_PAGE)]
        ours = [timed(page(path)) for _ in range(ROUNDS_PAGE)]
        print(f"{label + ':':9} {median_ms(ours):8.1f} ms  vs bare render   {median_ms(base):7.2f} ms  "
              f"ratio {statistics.median(ours) / statistics.median(base):5.1f}x  (goal ≤ 50 ms)")
    print(f"first page after a refresh (loads the catalog into memory): {first * 1000:.0f} ms")
    server.shutdown()


if __name__ == "__main__":
    t = time.perf_counter()
    main()
    print(f"total {time.perf_counter() - t:.1f} s")
