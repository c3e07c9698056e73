"""The baseline of bench/load.py: a bare Flask app (no sign-in, no CSRF) doing the same one-row
update and list render as the panel, on the database named by BENCH_DATABASE_URL.

    gunicorn bench._bare_app:app   (run by bench/load.py)
"""

import os

from flask import Flask, render_template_string
from sqlalchemy import create_engine, text

app = Flask("bare")
engine = create_engine(os.environ["BENCH_DATABASE_URL"], pool_pre_ping=False)
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
    with engine.begin() as connection:
        connection.execute(text("UPDATE modules SET state = :state WHERE slug = :slug"), {"state": state, "slug": slug})
    return f'<div id="module-{slug}" data-state="{state}"></div>'
