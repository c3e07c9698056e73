"""Median server time of the htmx toggle vs a bare Flask route committing the same one-row change.

Both run in this process against the same SQLite file, through Flask's test client, interleaved
so noise hits both alike. Prints the ratio (goal ≤ 1.5×) and the fragment's size (goal ≤ 4 KB).

    .venv/bin/python bench/toggle.py [ITERATIONS]
"""

import sys

from _common import ROOT, median_ms, panel_app, timed

ITERATIONS = int(sys.argv[1]) if len(sys.argv) > 1 else 400


def bare_app(database_uri: str):
    from flask import Flask
    from sqlalchemy import create_engine, text

    engine = create_engine(database_uri)  # the panel's SQLite pragmas apply to every engine
    bare = Flask("bare")

    @bare.post("/bare/<slug>/<state>")
    def toggle(slug, state):
        with engine.begin() as conn:
            conn.execute(text("UPDATE modules SET state = :state WHERE slug = :slug"), {"state": state, "slug": slug})
        return f'<div id="module-{slug}" data-state="{state}"></div>'

    return bare, engine


def same_stack_route(app):
    """The same one-row commit as a route of the panel itself: sign-in check, CSRF, session,
    headers, and nothing else. The floor any panel action stands on."""
    from sqlalchemy import text

    from panel.extensions import db

    @app.post("/_bench/<slug>/<state>")
    def bench_commit(slug, state):
        db.session.execute(text("UPDATE modules SET state = :state WHERE slug = :slug"), {"state": state, "slug": slug})
        db.session.commit()
        return f'<div id="module-{slug}" data-state="{state}"></div>'


def main():
    from panel import installer_bridge

    app, client, _ = panel_app(same_stack_route)
    with app.app_context():
        installer_bridge.install_dir(ROOT / "panel" / "hub" / "sources" / "hello", "bench")
    bare, engine = bare_app(app.config["SQLALCHEMY_DATABASE_URI"])
    bare_client = bare.test_client()
    headers = {"HX-Request": "true", "X-CSRFToken": client.csrf}

    def panel_toggle(action):
        response = client.post(f"/modules/hello/{action}", headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        return response

    sizes = {action: len(panel_toggle(action).data) for action in ("enable", "disable")}
    for _ in range(20):  # warm up both
        panel_toggle("enable"), panel_toggle("disable")
        bare_client.post("/bare/hello/enabled"), bare_client.post("/bare/hello/disabled")

    panel_times, bare_times, stack_times = [], [], []
    for i in range(ITERATIONS):
        action, state = ("enable", "enabled") if i % 2 == 0 else ("disable", "disabled")
        panel_times.append(timed(lambda: panel_toggle(action)))
        bare_times.append(timed(lambda: bare_client.post(f"/bare/hello/{state}")))
        stack_times.append(timed(lambda: client.post(f"/_bench/hello/{state}", headers=headers)))

    panel_ms, bare_ms, stack_ms = median_ms(panel_times), median_ms(bare_times), median_ms(stack_times)
    ratio = panel_ms / bare_ms
    fragment = max(sizes.values())
    print(f"toggle: panel {panel_ms:.2f} ms, bare route {bare_ms:.2f} ms (median of {ITERATIONS})")
    print(f"toggle ratio: {ratio:.2f}x (goal <= 1.5x) {'OK' if ratio <= 1.5 else 'MISSED'}")
    print(f"  for reference: the same commit as a signed-in panel route (auth, CSRF, session only) "
          f"{stack_ms:.2f} ms = {stack_ms / bare_ms:.2f}x the bare route; toggle = {panel_ms / stack_ms:.2f}x that")
    print(f"fragment: {fragment} bytes (enable {sizes['enable']}, disable {sizes['disable']}; goal <= 4096) "
          f"{'OK' if fragment <= 4096 else 'MISSED'}")
    engine.dispose()


if __name__ == "__main__":
    main()
