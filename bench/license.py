"""The license check's cost: the in-process toggle with a license present against the same toggle without.

Also prints the in-process comparisons of the previous toggle bench (bench/toggle.py now compares
with a separate bare app over HTTP at several sizes):
median server time of the htmx toggle vs a bare Flask route committing the same one-row change.

The bare route is a plain view added to the panel process: it loads the module, sets its state
and commits, the way any Flask-SQLAlchemy route does, and nothing else — no audit, no generation
counter, no rendering. Like every URL of the panel it stands behind the sign-in, CSRF and session
(the panel has no URL without them), so the ratio measures what the toggle itself adds. For
reference the run also times the same change as one SQL UPDATE in the panel, and in a separate
Flask app with no sign-in at all.

All run in this process against the same SQLite file, through Flask's test client, interleaved
so noise hits them alike. Prints the ratio (goal ≤ 1.5×) and the fragment's size (goal ≤ 4 KB).

    .venv/bin/python bench/license.py [ITERATIONS]
"""

import sys

from _common import ROOT, median_ms, panel_app, timed
from _scale import bare_app

ITERATIONS = int(sys.argv[1]) if len(sys.argv) > 1 else 400


def add_twin_row(app, slug, twin):
    """A copy of the module's row for the bare routes, so that each of their commits changes a row
    as each toggle does (on the toggle's own row they would often write the state it already has)."""
    from panel.extensions import db
    from panel.models import Module

    columns = {c.key: getattr(db.session.get(Module, slug), c.key) for c in Module.__table__.columns}
    db.session.add(Module(**{**columns, "slug": twin, "state": "disabled"}))
    db.session.commit()


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


def licensed_panel():
    """A second panel where `hello` is paid (per its catalog) and owned per a stored, signed token:
    each toggle then reads and verifies the token and checks the entitlement, as every request does."""
    import base64
    import json
    from pathlib import Path

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from panel.installer import install_dir
    from panel.licensing import token
    from panel.marketplace import catalog
    from panel.services import licenses

    app, client, instance = panel_app()
    private = Ed25519PrivateKey.generate()
    with app.app_context():
        install_dir(ROOT / "panel" / "hub" / "sources" / "hello", "bench")
        raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        (Path(instance) / "marketplace_keys.json").write_text(json.dumps({catalog.store_url(): base64.b64encode(raw).decode()}))
        entry = catalog.validate_entry({"slug": "hello", "name": "Hello", "version": "1.2.0", "paid": True,
                                        "versions": [{"version": "1.2.0", "requires_core": ">=1.0"}]})
        catalog.save_catalog([entry])  # the catalog as rows, as a refresh stores it
        claims = token.make_claims(1, "Bench", licenses.installation_id(),
                                   {"hello": {"kind": "owned", "until": None, "updates_until": None}})
        licenses.save_token("PANEL-DEMKY-TRYME-ABCDE-FGHJ6", token.sign(claims, private))
    return app, client


def main():
    from panel.installer import install_dir

    app, client, _ = panel_app(bare_panel_routes)
    with app.app_context():
        install_dir(ROOT / "panel" / "hub" / "sources" / "hello", "bench")
        add_twin_row(app, "hello", "twin")
    other, engine = bare_app(app.config["SQLALCHEMY_DATABASE_URI"], "")  # its toggle route only
    other_client = other.test_client()
    headers = {"HX-Request": "true", "X-CSRFToken": client.csrf}

    def panel_toggle(action):
        response = client.post(f"/modules/hello/{action}", headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        return response

    def bare(kind, state):
        response = client.post(f"/_bench/{kind}/twin/{state}", headers=headers)
        assert response.status_code == 200, response.status_code

    twin = {"state": "disabled"}

    def flip_twin(post):
        """Time `post(new_state)` with the twin's opposite state: every bare commit is a change."""
        twin["state"] = "enabled" if twin["state"] == "disabled" else "disabled"
        return timed(lambda: post(twin["state"]))

    def orm(state):
        bare("orm", state)

    def sql(state):
        bare("sql", state)

    def other_app(state):
        assert other_client.post(f"/bare/twin/{state}").status_code == 200

    licensed_app, licensed_client = licensed_panel()
    licensed_headers = {"HX-Request": "true", "X-CSRFToken": licensed_client.csrf}

    def licensed_toggle(action):
        response = licensed_client.post(f"/modules/hello/{action}", headers=licensed_headers)
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        assert "Owned" in response.get_data(as_text=True)

    sizes = {action: len(panel_toggle(action).data) for action in ("enable", "disable")}
    for _ in range(20):  # warm up all
        panel_toggle("enable"), panel_toggle("disable")
        flip_twin(orm), flip_twin(sql), flip_twin(other_app)
        licensed_toggle("enable"), licensed_toggle("disable")

    times = {"toggle": [], "orm": [], "sql": [], "other": [], "licensed": []}
    for i in range(ITERATIONS):
        action = "enable" if i % 2 == 0 else "disable"
        times["toggle"].append(timed(lambda: panel_toggle(action)))
        times["orm"].append(flip_twin(orm))
        times["sql"].append(flip_twin(sql))
        times["other"].append(flip_twin(other_app))
        times["licensed"].append(timed(lambda: licensed_toggle(action)))

    ms = {kind: median_ms(samples) for kind, samples in times.items()}
    ratio = ms["toggle"] / ms["orm"]
    fragment = max(sizes.values())
    print(f"toggle: panel {ms['toggle']:.2f} ms, bare route {ms['orm']:.2f} ms (median of {ITERATIONS})")
    print(f"toggle ratio: {ratio:.2f}x (goal <= 1.5x) {'OK' if ratio <= 1.5 else 'MISSED'}")
    print(f"  for reference: the change as one SQL UPDATE in the panel {ms['sql']:.2f} ms "
          f"(toggle = {ms['toggle'] / ms['sql']:.2f}x that); in a separate Flask app without sign-in, CSRF "
          f"or session {ms['other']:.2f} ms (toggle = {ms['toggle'] / ms['other']:.2f}x that)")
    print(f"toggle with a license present (hello paid per its catalog, owned per the stored token): "
          f"{ms['licensed']:.2f} ms vs {ms['toggle']:.2f} ms without = {ms['licensed'] / ms['toggle']:.2f}x "
          f"(goal: unchanged within noise)")
    print(f"fragment: {fragment} bytes (enable {sizes['enable']}, disable {sizes['disable']}; goal <= 4096) "
          f"{'OK' if fragment <= 4096 else 'MISSED'}")
    engine.dispose()


if __name__ == "__main__":
    main()
