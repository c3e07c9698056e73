"""Set-up shared by the list and toggle benchmarks: a panel served over loopback HTTP with N installed
modules (each a folder on disk with its module.json and code, and its row), a stored catalog, and a
separate bare Flask app on the same database, served the same way."""

import json
import os
import re
import threading

import requests
from werkzeug.serving import make_server

from _common import PASSWORD, panel_app

SECTIONS = ("modules", "payments", "tools")


def serve(wsgi_app) -> tuple[str, object]:
    server = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", server


def grow_modules(app, start: int, stop: int) -> None:
    """Modules start..stop-1: a folder each (module.json, a page) and a row, all disabled. A toggle of a
    random module among thousands is then nearly always a first enable: its code imported for the
    first time in the process, its card and sidebar entry rendered for the first time. Each row holds
    what discovering its folder writes (`services.modules.manifest_values`: its menu section among
    them), so an enable writes what it writes for an installed module; its code is compiled as
    discovery (and an install) compiles it (`runtime.bytecode.precompile`)."""
    from pathlib import Path

    from sqlalchemy import insert

    from panel import manifest as manifest_mod
    from panel.extensions import db
    from panel.models import Module
    from panel.runtime.bytecode import precompile
    from panel.services.modules import manifest_values

    root = Path(app.config["MODULES_PATH"])
    made = []
    for i in range(start, stop):
        slug = f"mod_{i:05d}"
        manifest = {"slug": slug, "name": f"Module {i:05d}", "version": "1.0.0", "requires_core": ">=1.0",
                    "description": f"Bench module number {i}, with a description of a usual length.",
                    "author": f"Vendor {i % 50}", "category": "Tools",
                    "menu": {"label": f"Module {i:05d}", "icon": "box", "section": SECTIONS[i % 3]}}
        folder = root / slug
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "module.json").write_text(json.dumps(manifest), encoding="utf-8")
        (folder / "__init__.py").write_text("def setup(api):\n    @api.page('/')\n    def index():\n"
                                            "        return 'ok'\n", encoding="utf-8")
        precompile(folder)
        made.append((slug, manifest, i))
    with app.app_context():
        rows = [{"slug": slug, **manifest_values(manifest_mod.validate(manifest), None), "state": "disabled",
                 "source": "folder", "show_in_sidebar": True, "position": i} for slug, manifest, i in made]
        db.session.execute(insert(Module), rows)
        db.session.commit()
    # As if copied in a while ago: a folder changed within the last second is listed again (one mtime
    # tick may hide a second copy), which is what a change costs, not what a page costs.
    changed = root.stat().st_mtime_ns - 2_000_000_000
    os.utime(root, ns=(changed, changed))


def enable_every_module(app) -> None:
    """Every module's row enabled at once, as another worker's many toggles would leave them."""
    from sqlalchemy import update

    from panel.extensions import db
    from panel.models import Module
    from panel.runtime.registry import bump_generation

    with app.app_context():
        db.session.execute(update(Module).values(state="enabled"))
        bump_generation()
        db.session.commit()


def store_catalog(app, size: int) -> None:
    """A stored catalog of `size` modules (the installed ones among them, some with an update)."""
    from panel.marketplace import catalog

    entries = ({"slug": f"mod_{i:05d}", "name": f"Module {i:05d}", "version": "1.1.0" if i % 5 == 0 else "1.0.0",
                "summary": f"Catalog entry {i}", "author": f"Vendor {i % 50}", "category": "Tools",
                "requires_core": ">=1.0"} for i in range(size))
    with app.app_context():
        catalog.save_catalog(catalog.Validated(list(entries)))


def signed_in_session(url: str) -> requests.Session:
    session = requests.Session()
    html = session.get(f"{url}/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    response = session.post(f"{url}/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token},
                            allow_redirects=False)
    assert response.status_code == 302, response.status_code
    html = session.get(f"{url}/modules").text
    session.headers.update({"HX-Request": "true", "X-CSRFToken": re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)})
    # From here on the session cookie goes as the header a browser sends: the same bytes reach the
    # panel, without requests' cookie jar, whose policy checks cost this Python client about 80 µs a
    # request (bench/toggle.py's bare app gets no cookie, so that was the load generator's time
    # counted as the panel's). The pages and toggles timed set no cookie (`no_new_cookie`).
    session.headers["Cookie"] = "; ".join(f"{cookie.name}={cookie.value}" for cookie in session.cookies)
    session.cookies.clear()
    return session


def no_new_cookie(response) -> None:
    """A timed answer of a `signed_in_session` sets no cookie: its jar is no longer looked at."""
    assert "Set-Cookie" not in response.headers, response.headers["Set-Cookie"]


def bare_app(database_uri: str, card_template: str):
    """A separate bare Flask app on the same database: a toggle that commits the same change, and a
    list that selects the same visible rows and renders them."""
    from flask import Flask, render_template_string
    from sqlalchemy import create_engine, text

    engine = create_engine(database_uri)
    bare = Flask("bare")
    # A counter row of its own: moving the panel's `generation` would tell the panel another worker
    # changed its modules before each of its toggles, which is not what a toggle costs.
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO panel_state (key, value) VALUES ('bare', 0)"))

    @bare.post("/bare/<slug>/<state>")
    def toggle(slug, state):
        # The same commit as the panel's toggle: the module's row, its audit entry, a change counter.
        with engine.begin() as conn:
            conn.execute(text("UPDATE modules SET state = :state, updated_at = CURRENT_TIMESTAMP WHERE slug = :slug"),
                         {"state": state, "slug": slug})
            conn.execute(text("INSERT INTO audit_events (at, actor, action, slug, detail) "
                              "VALUES (CURRENT_TIMESTAMP, 'bare', :state, :slug, '')"), {"state": state, "slug": slug})
            conn.execute(text("UPDATE panel_state SET value = value + 1 WHERE key = 'bare'"))
        return f'<div id="module-{slug}" data-state="{state}"></div>'

    @bare.get("/bare/list")
    def listing():
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT slug, name, version, category, author, description, state FROM modules "
                                     "ORDER BY lower(name), slug LIMIT 50")).all()
        return render_template_string(card_template, rows=rows)

    return bare, engine


def panel_with_modules():
    app, _, instance = panel_app()
    url, server = serve(app)
    return app, url, server
