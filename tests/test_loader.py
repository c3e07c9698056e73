"""Loading module code: a broken module is isolated, fixed files are retried, disabled pages vanish."""

import json
import re
import shutil
from pathlib import Path

import pytest

from conftest import SOURCES, htmx_post, install_sample


def make_module(root: Path, slug: str, code: str, *, templates: dict | None = None,
                static: dict | None = None, **manifest) -> Path:
    folder = root / slug
    folder.mkdir(parents=True)
    data = {"slug": slug, "name": slug.capitalize(), "version": "1.0.0",
            "menu": {"label": slug.capitalize(), "icon": "box"}, **manifest}
    (folder / "module.json").write_text(json.dumps(data))
    (folder / "__init__.py").write_text(code)
    for kind, files in (("templates", templates), ("static", static)):
        for name, text in (files or {}).items():
            path = folder / kind / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    return folder


PAGE = '''
def setup(api):
    @api.page("/")
    def index():
        return "<p class='ok'>%s works</p>"
'''

ENABLE_HOOK_RAISES = '''
def setup(api):
    @api.page("/")
    def index():
        return "fine"

    @api.on("enable")
    def on_enable():
        raise ValueError("cannot reach the payment gateway")
'''


def modules_folder(app) -> Path:
    return Path(app.config["MODULES_PATH"])


def card(html: str, slug: str) -> str:
    match = re.search(rf'<div class="col module-card-col" id="module-{slug}".*?</article>\s*</div>', html, re.S)
    assert match, f"no card for {slug}"
    return match.group(0)


def state_of(client, slug: str) -> str:
    html = client.get("/modules").get_data(as_text=True)
    return re.search(rf'id="module-{slug}" data-state="(\w+)"', html).group(1)


def test_a_module_that_raises_on_import_is_marked_failed_and_the_panel_keeps_serving(app, admin_client):
    install_sample(app, "broken")
    install_sample(app, "hello")

    response = htmx_post(admin_client, "/modules/broken/enable")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="module-broken" data-state="failed"' in html
    assert "RuntimeError: this module is broken on purpose" in html
    assert "__init__.py, line 3" in html  # where it broke, for the author

    # The rest of the panel is unaffected.
    assert admin_client.get("/").status_code == 200
    page = admin_client.get("/modules").get_data(as_text=True)
    assert "this module is broken on purpose" in card(page, "broken")
    assert htmx_post(admin_client, "/modules/hello/enable").status_code == 200
    assert "Hello, admin!" in admin_client.get("/m/hello/").get_data(as_text=True)
    assert admin_client.get("/m/broken/").status_code == 404
    assert 'data-module="broken"' not in admin_client.get("/").get_data(as_text=True)


def test_a_failing_enable_hook_marks_the_module_failed_with_its_error(app, admin_client, tmp_path):
    install_sample(app, "gateway", make_module(tmp_path, "gateway", ENABLE_HOOK_RAISES))
    html = htmx_post(admin_client, "/modules/gateway/enable").get_data(as_text=True)
    assert 'data-state="failed"' in html
    assert "ValueError: cannot reach the payment gateway" in html
    assert admin_client.get("/m/gateway/").status_code == 404
    assert 'data-module="gateway"' not in html  # no sidebar entry


def test_fixing_the_file_and_pressing_enable_again_retries(app, admin_client, tmp_path):
    install_sample(app, "broken")
    assert 'data-state="failed"' in htmx_post(admin_client, "/modules/broken/enable").get_data(as_text=True)
    assert "Retry enable" in card(admin_client.get("/modules").get_data(as_text=True), "broken")

    # The administrator fixes the file within the same second: the new code must run, not a cached one.
    (modules_folder(app) / "broken" / "__init__.py").write_text(PAGE % "broken")
    html = htmx_post(admin_client, "/modules/broken/enable").get_data(as_text=True)
    assert 'id="module-broken" data-state="enabled"' in html
    assert "module-error" not in html  # the old error is gone from the card
    assert "broken works" in admin_client.get("/m/broken/").get_data(as_text=True)
    assert 'data-module="broken"' in html


def test_module_json_edited_by_hand_into_something_unreadable_fails_the_enable_with_one_sentence(app, admin_client,
                                                                                                   tmp_path):
    # The code is larger than one read of the file: it must still come in whole.
    padding = "x" * 150_000
    install_sample(app, "big", make_module(tmp_path, "big", PAGE % "big" + f"\nPADDING = {padding!r}\n"))
    manifest = modules_folder(app) / "big" / "module.json"
    kept = manifest.read_bytes()

    manifest.write_bytes(kept[:-1] + b" " * 70_000 + b"}")  # valid JSON, over the 64 KB limit
    html = htmx_post(admin_client, "/modules/big/enable").get_data(as_text=True)
    assert 'data-state="failed"' in html and "module.json is larger than 64 KB." in html

    manifest.unlink()
    manifest.mkdir()  # a folder where the file was
    html = htmx_post(admin_client, "/modules/big/enable").get_data(as_text=True)
    assert 'data-state="failed"' in html and "module.json is missing." in html

    manifest.rmdir()
    manifest.write_bytes(kept)
    html = htmx_post(admin_client, "/modules/big/enable").get_data(as_text=True)
    assert 'id="module-big" data-state="enabled"' in html
    assert "big works" in admin_client.get("/m/big/").get_data(as_text=True)


COUNTS_IMPORTS = '''
import time

IMPORTED_AT = time.perf_counter_ns()  # differs on each import of this file


def setup(api):
    @api.page("/")
    def index():
        return api.render("index.html", marker=IMPORTED_AT)
'''


def test_switching_off_and_on_again_takes_up_unchanged_code_and_rereads_changed_files(app, admin_client, tmp_path):
    install_sample(app, "counter", make_module(tmp_path, "counter", COUNTS_IMPORTS,
                                               templates={"index.html": "<p class='v1'>{{ marker }}</p>"}))
    folder = modules_folder(app) / "counter"
    htmx_post(admin_client, "/modules/counter/enable")
    first = admin_client.get("/m/counter/").get_data(as_text=True)
    assert "class='v1'" in first

    htmx_post(admin_client, "/modules/counter/disable")
    assert admin_client.get("/m/counter/").status_code == 404
    htmx_post(admin_client, "/modules/counter/enable")
    assert admin_client.get("/m/counter/").get_data(as_text=True) == first  # the same code, not imported again

    # Edited by hand while switched off: the template, then the manifest and the code.
    htmx_post(admin_client, "/modules/counter/disable")
    (folder / "templates" / "index.html").write_text("<p class='v2'>{{ marker }}</p>")
    htmx_post(admin_client, "/modules/counter/enable")
    assert "class='v2'" in admin_client.get("/m/counter/").get_data(as_text=True)

    htmx_post(admin_client, "/modules/counter/disable")
    manifest = json.loads((folder / "module.json").read_text())
    (folder / "module.json").write_text(json.dumps({**manifest, "name": "Counter Two"}))
    (folder / "__init__.py").write_text(PAGE % "counter v3")
    html = htmx_post(admin_client, "/modules/counter/enable").get_data(as_text=True)
    assert "Counter Two" in card(html, "counter")
    assert "counter v3 works" in admin_client.get("/m/counter/").get_data(as_text=True)


def test_a_module_without_setup_fails_with_a_readable_reason(app, admin_client, tmp_path):
    install_sample(app, "nosetup", make_module(tmp_path, "nosetup", "VALUE = 1\n"))
    html = htmx_post(admin_client, "/modules/nosetup/enable").get_data(as_text=True)
    assert 'data-state="failed"' in html and "setup(api)" in html


def test_a_syntax_error_is_shown_on_the_card(app, admin_client, tmp_path):
    install_sample(app, "typo", make_module(tmp_path, "typo", "def setup(api)\n    pass\n"))
    html = htmx_post(admin_client, "/modules/typo/enable").get_data(as_text=True)
    assert 'data-state="failed"' in html and "SyntaxError" in html


def test_a_disabled_module_answers_404_at_once(app, admin_client):
    install_sample(app, "hello")
    assert admin_client.get("/m/hello/").status_code == 404  # installed but never enabled
    htmx_post(admin_client, "/modules/hello/enable")
    assert admin_client.get("/m/hello/").status_code == 200
    htmx_post(admin_client, "/modules/hello/disable")
    assert admin_client.get("/m/hello/").status_code == 404
    assert admin_client.get("/m/hello/anything/else").status_code == 404


def test_a_toggle_made_by_another_worker_is_seen_on_the_next_request(app, admin_client):
    """Two app objects on one database stand for two worker processes."""
    from conftest import sign_in
    from panel import create_app

    install_sample(app, "hello")
    other = create_app({"TESTING": True, "INSTANCE_PATH": app.instance_path, "SECRET_KEY": "test-secret"})
    other_client = other.test_client()
    sign_in(other_client)
    assert other_client.get("/m/hello/").status_code == 404
    htmx_post(admin_client, "/modules/hello/enable")
    assert other_client.get("/m/hello/").status_code == 200
    assert 'data-module="hello"' in other_client.get("/").get_data(as_text=True)
    htmx_post(admin_client, "/modules/hello/disable")
    assert other_client.get("/m/hello/").status_code == 404
    assert 'data-module="hello"' not in other_client.get("/").get_data(as_text=True)


LOGS_IMPORTS_AND_HOOKS = '''
from pathlib import Path

LOG = Path(%r)
with LOG.open("a") as fh:
    fh.write("imported\\n")


def setup(api):
    @api.page("/")
    def index():
        return "logged works"

    @api.on("disable")
    def on_disable():
        with LOG.open("a") as fh:
            fh.write("disable hook\\n")
'''


def test_a_worker_that_never_served_a_module_runs_its_disable_hook_and_keeps_the_code(app, admin_client, tmp_path):
    from conftest import sign_in
    from panel import create_app

    log = tmp_path / "log.txt"
    install_sample(app, "logged", make_module(tmp_path / "sources", "logged", LOGS_IMPORTS_AND_HOOKS % str(log)))
    htmx_post(admin_client, "/modules/logged/enable")
    before = log.read_text().splitlines()
    assert "disable hook" not in before

    other = create_app({"TESTING": True, "INSTANCE_PATH": app.instance_path, "SECRET_KEY": "test-secret"})
    other_client = other.test_client()
    other_client.csrf = sign_in(other_client)
    html = htmx_post(other_client, "/modules/logged/disable").get_data(as_text=True)
    assert 'id="module-logged" data-state="disabled"' in html
    assert log.read_text().splitlines() == [*before, "imported", "disable hook"]

    # Switched on again there, its unchanged code is taken up again, not imported a third time.
    html = htmx_post(other_client, "/modules/logged/enable").get_data(as_text=True)
    assert 'id="module-logged" data-state="enabled"' in html
    assert "logged works" in other_client.get("/m/logged/").get_data(as_text=True)
    assert log.read_text().splitlines() == [*before, "imported", "disable hook"]


def test_a_worker_imports_only_the_modules_it_serves(app, admin_client):
    """A fresh worker asked for one module's page imports that module and no other enabled one (a
    thousand enabled modules would otherwise all be compiled before its first module page)."""
    from conftest import sign_in
    from panel import create_app

    for slug in ("alpha", "beta", "gamma"):
        make_module(modules_folder(app), slug, PAGE % slug)
    admin_client.get("/modules")  # discovered
    for slug in ("alpha", "beta", "gamma"):
        assert htmx_post(admin_client, f"/modules/{slug}/enable").status_code == 200
    other = create_app({"TESTING": True, "INSTANCE_PATH": app.instance_path, "SECRET_KEY": "test-secret"})
    other_client = other.test_client()
    sign_in(other_client)
    registry = other.extensions["module_registry"]

    assert "beta works" in other_client.get("/m/beta/").get_data(as_text=True)
    assert set(registry.loaded) == {"beta"}
    assert "gamma works" in other_client.get("/m/gamma/").get_data(as_text=True)
    assert set(registry.loaded) == {"beta", "gamma"}
    htmx_post(admin_client, "/modules/beta/disable")  # on the first worker
    assert other_client.get("/m/beta/").status_code == 404
    assert set(registry.loaded) == {"gamma"}
    assert "gamma works" in other_client.get("/m/gamma/").get_data(as_text=True)


def test_folders_copied_by_hand_are_discovered_disabled(app, admin_client, tmp_path):
    shutil.copytree(SOURCES / "hello", modules_folder(app) / "hello")
    make_module(modules_folder(app), "mismatch", PAGE % "x").joinpath("module.json").write_text(
        json.dumps({"slug": "other_name", "name": "Mismatch", "version": "1.0"}))
    make_module(modules_folder(app), "nomanifest", PAGE % "x").joinpath("module.json").unlink()
    (modules_folder(app) / "Not-A-Module").mkdir()
    (modules_folder(app) / "__pycache__").mkdir()

    html = admin_client.get("/modules").get_data(as_text=True)
    assert 'id="module-hello" data-state="disabled"' in html
    assert "v1.2.0" in card(html, "hello")
    assert 'id="module-mismatch" data-state="failed"' in html and "does not match its folder" in html
    assert 'id="module-nomanifest" data-state="failed"' in html and "module.json is missing" in html
    assert "Not-A-Module" not in html and "__pycache__" not in html
    assert admin_client.get("/m/hello/").status_code == 404  # discovered means disabled

    # Registered once: a second visit neither duplicates nor re-audits.
    admin_client.get("/modules")
    dashboard = admin_client.get("/").get_data(as_text=True)
    assert dashboard.count("found a new module folder") == 3
    assert htmx_post(admin_client, "/modules/hello/enable").status_code == 200
    assert admin_client.get("/m/hello/").status_code == 200


def test_a_folder_added_while_the_list_is_open_appears_on_the_next_visit(app, admin_client):
    assert "module-hello" not in admin_client.get("/modules").get_data(as_text=True)
    shutil.copytree(SOURCES / "hello", modules_folder(app) / "hello")
    assert 'id="module-hello" data-state="disabled"' in admin_client.get("/modules").get_data(as_text=True)


def test_notes_runs_its_own_migration_and_stores_notes(app, admin_client):
    from sqlalchemy import inspect

    from panel.extensions import db

    install_sample(app, "notes")  # the install pipeline may run the migration already; enable must
    assert 'data-state="enabled"' in htmx_post(admin_client, "/modules/notes/enable").get_data(as_text=True)
    with app.app_context():
        assert "mod_notes_notes" in inspect(db.engine).get_table_names()

    assert "No notes yet." in admin_client.get("/m/notes/").get_data(as_text=True)
    response = admin_client.post("/m/notes/", data={"body": "Renew the <b>TLS</b> certificate",
                                                    "csrf_token": admin_client.csrf})
    assert response.status_code == 302
    html = admin_client.get("/m/notes/").get_data(as_text=True)
    assert "Renew the &lt;b&gt;TLS&lt;/b&gt; certificate" in html  # escaped
    assert "admin ·" in html

    empty = admin_client.post("/m/notes/", data={"body": " ", "csrf_token": admin_client.csrf})
    assert empty.status_code == 422 and "1 to 500 characters" in empty.get_data(as_text=True)
    assert admin_client.post("/m/notes/", data={"body": "no token"}).status_code == 400

    # Disable then enable again: the migration is not run twice and the notes are kept.
    htmx_post(admin_client, "/modules/notes/disable")
    assert admin_client.get("/m/notes/").status_code == 404
    htmx_post(admin_client, "/modules/notes/enable")
    assert "TLS" in admin_client.get("/m/notes/").get_data(as_text=True)
    with app.app_context():
        from panel.models import ModuleMigration
        assert [m.name for m in db.session.query(ModuleMigration).filter_by(slug="notes")] == ["0001_create_notes"]


def test_a_failing_migration_is_refused_with_its_file_named(app, admin_client, tmp_path):
    from panel.errors import PanelError

    folder = make_module(tmp_path, "badmig", PAGE % "badmig")
    (folder / "migrations").mkdir()
    (folder / "migrations" / "0001_bad.py").write_text("def upgrade(db):\n    db.execute('CREATE TABLE (')\n")
    try:
        install_sample(app, "badmig", folder)
    except PanelError as exc:  # refused at install (migrations run there): nothing left behind
        assert "0001_bad.py" in str(exc)
        assert "module-badmig" not in admin_client.get("/modules").get_data(as_text=True)
        assert admin_client.get("/m/badmig/").status_code == 404
        return
    html = htmx_post(admin_client, "/modules/badmig/enable").get_data(as_text=True)
    assert 'data-state="failed"' in html and "0001_bad.py" in html
    assert admin_client.get("/m/badmig/").status_code == 404


TEMPLATED = '''
def setup(api):
    @api.page("/")
    def index():
        return api.render("index.html", who="<world>")

    @api.page("/items/<int:item>")
    def item(item):
        return api.render("item.html", item=item)
'''


def test_module_templates_and_static_files_are_served(app, admin_client, tmp_path):
    folder = make_module(
        tmp_path, "shop", TEMPLATED,
        templates={
            "index.html": '{% extends "module_page.html" %}{% block module_content %}'
                          '<h1 class="shop-title">Hi {{ who }}</h1>{% include "shop/part.html" %}'
                          '<link rel="stylesheet" href="{{ api.static_url("shop.css") }}">'
                          '<a href="{{ api.url_for("item", item=7) }}">seven</a>{% endblock %}',
            "part.html": "<p class='shop-part'>{{ _('Dashboard') }}</p>",
            "item.html": "item {{ item }}",
        },
        static={"shop.css": ".shop-title { color: teal; }"})
    install_sample(app, "shop", folder)
    assert admin_client.get("/m/shop/static/shop.css").status_code == 404
    htmx_post(admin_client, "/modules/shop/enable")

    html = admin_client.get("/m/shop/").get_data(as_text=True)
    assert "Hi &lt;world&gt;" in html
    assert "shop-part" in html
    assert 'id="sidebar"' in html  # inside the panel's layout
    assert 'href="/m/shop/static/shop.css"' in html
    assert 'href="/m/shop/items/7"' in html
    assert admin_client.get("/m/shop/items/7").get_data(as_text=True) == "item 7"
    assert admin_client.get("/m/shop/items/x").status_code == 404
    assert admin_client.post("/m/shop/items/7", data={"csrf_token": admin_client.csrf}).status_code == 405

    css = admin_client.get("/m/shop/static/shop.css")
    assert css.status_code == 200 and b"teal" in css.data
    assert admin_client.get("/m/shop/static/../module.json").status_code == 404
    assert admin_client.get("/m/shop/static/%2e%2e/__init__.py").status_code == 404

    htmx_post(admin_client, "/modules/shop/disable")
    assert admin_client.get("/m/shop/static/shop.css").status_code == 404


@pytest.mark.parametrize("slug", ["dashboard", "auth", "partials"])
def test_a_module_cannot_take_over_the_panels_templates(app, admin_client, tmp_path, slug):
    """A module named like one of the panel's template folders still renders its own templates."""
    folder = make_module(tmp_path, slug, TEMPLATED, templates={"index.html": "mine: {{ who }}"})
    try:
        install_sample(app, slug, folder)
    except Exception as exc:  # refusing the name is a fine answer too
        assert "slug" in str(exc)
        return
    htmx_post(admin_client, f"/modules/{slug}/enable")
    assert admin_client.get(f"/m/{slug}/").get_data(as_text=True) == "mine: &lt;world&gt;"
    assert 'id="sidebar"' in admin_client.get("/modules").get_data(as_text=True)


def test_module_pages_need_a_signed_in_administrator(app, admin_client, client):
    install_sample(app, "hello")
    htmx_post(admin_client, "/modules/hello/enable")
    anonymous = app.test_client()
    response = anonymous.get("/m/hello/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
