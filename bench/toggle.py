"""Median server time of the htmx toggle vs a bare Flask route committing the same one-row change.

The bare route is a plain view added to the panel process: it loads the module, sets its state
and commits, the way any Flask-SQLAlchemy route does, and nothing else — no audit, no generation
counter, no rendering. Like every URL of the panel it stands behind the sign-in, CSRF and session
(the panel has no URL without them), so the ratio measures what the toggle itself adds. For
reference the run also times the same change as one SQL UPDATE in the panel, and in a separate
Flask app with no sign-in at all.

All run in this process against the same SQLite file, through Flask's test client, interleaved
so noise hits them alike. Prints the ratio (goal ≤ 1.5×) and the fragment's size (goal ≤ 4 KB).

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


def bare_panel_routes(app):
    """The same one-row change as plain views of the panel: the sign-in check, CSRF, session and
    headers every panel URL has, then the commit, and nothing else."""
    from sqlalchemy import text

    from panel.extensions import db
    from panel.models import Module

    @app.post("/_bench/orm/<slug>/<state>")
    def bench_orm_commit(slug, state):
        module = db.session.get(Module, slug)
        module.state = state
        db.session.commit()
        return f'<div id="module-{slug}" data-state="{state}"></div>'

    @app.post("/_bench/sql/<slug>/<state>")
    def bench_sql_commit(slug, state):
        db.session.execute(text("UPDATE modules SET state = :state WHERE slug = :slug"), {"state": state, "slug": slug})
        db.session.commit()
        return f'<div id="module-{slug}" data-state="{state}"></div>'


def main():
    from panel import installer_bridge

    app, client, _ = panel_app(bare_panel_routes)
    with app.app_context():
        installer_bridge.install_dir(ROOT / "panel" / "hub" / "sources" / "hello", "bench")
    other, engine = bare_app(app.config["SQLALCHEMY_DATABASE_URI"])
    other_client = other.test_client()
    headers = {"HX-Request": "true", "X-CSRFToken": client.csrf}

    def panel_toggle(action):
        response = client.post(f"/modules/hello/{action}", headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        return response

    def bare(kind, state):
        response = client.post(f"/_bench/{kind}/hello/{state}", headers=headers)
        assert response.status_code == 200, response.status_code

    sizes = {action: len(panel_toggle(action).data) for action in ("enable", "disable")}
    for _ in range(20):  # warm up all
        panel_toggle("enable"), panel_toggle("disable")
        bare("orm", "enabled"), bare("sql", "disabled")
        other_client.post("/bare/hello/enabled"), other_client.post("/bare/hello/disabled")

    times = {"toggle": [], "orm": [], "sql": [], "other": []}
    for i in range(ITERATIONS):
        action, state = ("enable", "enabled") if i % 2 == 0 else ("disable", "disabled")
        times["toggle"].append(timed(lambda: panel_toggle(action)))
        times["orm"].append(timed(lambda: bare("orm", state)))
        times["sql"].append(timed(lambda: bare("sql", state)))
        times["other"].append(timed(lambda: other_client.post(f"/bare/hello/{state}")))

    ms = {kind: median_ms(samples) for kind, samples in times.items()}
    ratio = ms["toggle"] / ms["orm"]
    fragment = max(sizes.values())
    print(f"toggle: panel {ms['toggle']:.2f} ms, bare route {ms['orm']:.2f} ms (median of {ITERATIONS})")
    print(f"toggle ratio: {ratio:.2f}x (goal <= 1.5x) {'OK' if ratio <= 1.5 else 'MISSED'}")
    print(f"  for reference: the change as one SQL UPDATE in the panel {ms['sql']:.2f} ms "
          f"(toggle = {ms['toggle'] / ms['sql']:.2f}x that); in a separate Flask app without sign-in, CSRF "
          f"or session {ms['other']:.2f} ms (toggle = {ms['toggle'] / ms['other']:.2f}x that)")
    print(f"fragment: {fragment} bytes (enable {sizes['enable']}, disable {sizes['disable']}; goal <= 4096) "
          f"{'OK' if fragment <= 4096 else 'MISSED'}")
    engine.dispose()


if __name__ == "__main__":
    main()
