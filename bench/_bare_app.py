"""The baseline of bench/load.py: a bare Flask app (no sign-in, no CSRF) rendering the same list and
committing the same change as the panel's toggle (the module's row, an audit entry and a change
counter, a row of its own), on the database named by BENCH_DATABASE_URL.

    gunicorn bench._bare_app:app   (run by bench/load.py)
"""

import os

from flask import Flask, render_template_string
from sqlalchemy import create_engine, text

app = Flask("bare")
engine = create_engine(os.environ["BENCH_DATABASE_URL"], pool_pre_ping=False)
with engine.begin() as setup:  # each worker: the first one in makes the row
    setup.execute(text("INSERT INTO panel_state (key, value) VALUES ('bare', 0) ON CONFLICT (key) DO NOTHING"))
LIST = """<!doctype html><title>Modules</title><ul>{% for m in modules %}
<li id="module-{{ m.slug }}" data-state="{{ m.state }}">{{ m.name }} {{ m.version }} — {{ m.description }}</li>
{% endfor %}</ul>"""


def render_list():
    with engine.connect() as connection:
        modules = connection.execute(text("SELECT slug, name, version, state, description FROM modules "
                                          "ORDER BY name")).mappings().all()
    return render_template_string(LIST, modules=modules)


@app.get("/login")
def login():
    return "ok"


@app.get("/modules")
def modules():
    return render_list()


@app.get("/marketplace")
def marketplace():
    return render_list()


@app.post("/modules/<slug>/<action>")
def toggle(slug, action):
    state = "enabled" if action == "enable" else "disabled"
    with engine.begin() as connection:  # the panel's toggle commits these three in one transaction
        connection.execute(text("UPDATE modules SET state = :state, updated_at = CURRENT_TIMESTAMP WHERE slug = :slug"),
                           {"state": state, "slug": slug})
        connection.execute(text("INSERT INTO audit_events (at, actor, action, slug, detail) "
                                "VALUES (CURRENT_TIMESTAMP, 'bare', :state, :slug, '')"), {"state": state, "slug": slug})
        connection.execute(text("UPDATE panel_state SET value = value + 1 WHERE key = 'bare'"))
    return f'<div id="module-{slug}" data-state="{state}"></div>'
