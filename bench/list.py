"""/modules with 1,000 installed modules vs a bare Jinja render of the same rows.

The panel page (full page, signed in) against a minimal Flask app on the same SQLite file whose
route selects the same rows and renders one plain card per row with Jinja. Same process, same
run, interleaved. Prints the ratio (goal ≤ 2×).

    .venv/bin/python bench/list.py [ITERATIONS]
"""

import sys

from _common import median_ms, panel_app, timed

ITERATIONS = int(sys.argv[1]) if len(sys.argv) > 1 else 40
MODULES = 1000

BARE_TEMPLATE = """<!doctype html><html><body><div class="row">
{% for m in rows %}<div class="col" id="module-{{ m.slug }}" data-state="{{ m.state }}"><article class="card">
<h2>{{ m.name }}</h2><div>v{{ m.version }} · {{ m.category }} · {{ m.author }}</div>
<span class="badge">{{ m.state }}</span><p>{{ m.description }}</p>
<form method="post" action="/modules/{{ m.slug }}/enable"><button>Enable</button></form></article></div>
{% endfor %}</div></body></html>"""


def insert_modules(app):
    from panel.extensions import db
    from panel.models import Module

    states = ("enabled", "disabled", "disabled", "failed")
    with app.app_context():
        db.session.add_all(
            Module(slug=f"mod_{i:04d}", name=f"Module {i:04d}", version="1.0.0", category="Tools",
                   author="Bench", description=f"Module number {i} for the list benchmark. " * 2,
                   docs_url="https://example.org/docs" if i % 3 else "", state=states[i % 4],
                   error="ImportError: nope" if i % 4 == 3 else None, source="folder",
                   manifest={"slug": f"mod_{i:04d}", "menu": {"label": f"M{i}", "icon": "box"}})
            for i in range(MODULES))
        db.session.commit()


def bare_app(database_uri: str):
    from flask import Flask, render_template_string
    from sqlalchemy import create_engine, text

    engine = create_engine(database_uri)
    bare = Flask("bare")

    @bare.get("/bare")
    def listing():
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT slug, name, version, category, author, description, state "
                                     "FROM modules ORDER BY lower(name), slug")).all()
        return render_template_string(BARE_TEMPLATE, rows=rows)

    return bare, engine


def main():
    app, client, _ = panel_app()
    insert_modules(app)
    bare, engine = bare_app(app.config["SQLALCHEMY_DATABASE_URI"])
    bare_client = bare.test_client()

    page = client.get("/modules")
    assert page.status_code == 200 and page.get_data(as_text=True).count('class="col module-card-col"') == MODULES
    bare_page = bare_client.get("/bare")
    for _ in range(3):
        client.get("/modules"), bare_client.get("/bare")

    panel_times, bare_times = [], []
    for _ in range(ITERATIONS):
        panel_times.append(timed(lambda: client.get("/modules")))
        bare_times.append(timed(lambda: bare_client.get("/bare")))
    panel_ms, bare_ms = median_ms(panel_times), median_ms(bare_times)
    ratio = panel_ms / bare_ms
    print(f"list of {MODULES}: panel /modules {panel_ms:.1f} ms ({len(page.data) // 1024} KB), "
          f"bare Jinja {bare_ms:.1f} ms ({len(bare_page.data) // 1024} KB) (median of {ITERATIONS})")
    print(f"list ratio: {ratio:.2f}x (goal <= 2x) {'OK' if ratio <= 2 else 'MISSED'}")
    engine.dispose()


if __name__ == "__main__":
    main()
