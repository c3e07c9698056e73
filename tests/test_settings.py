"""Module settings: a form per manifest field type, validation beside each field, secrets kept secret,
values read by the module through `api.settings`, changes in the audit trail."""

import re

import pytest
from conftest import htmx_post, install_sample

from panel.extensions import db
from panel.models import AuditEvent, ModuleSetting

SECRET = "s3cr3t-Vaule-7f2a"


@pytest.fixture
def hello(app, admin_client):
    """hello installed and enabled: its manifest has a field of every type."""
    install_sample(app, "hello")
    assert htmx_post(admin_client, "/modules/hello/enable").status_code == 200
    return admin_client


def save(client, **fields):
    return htmx_post(client, "/modules/hello/settings", data=fields)


def module_settings(app, slug="hello") -> dict:
    """What the module itself reads through its facade."""
    with app.app_context():
        loaded = app.extensions["module_registry"].get(slug)
        assert loaded is not None, f"{slug} is not loaded"
        return dict(loaded.api.settings)


def field_error(html: str, key: str) -> str | None:
    match = re.search(rf'id="setting-hello-{key}-error">([^<]*)<', html)
    return match.group(1) if match else None


def test_the_form_has_a_field_of_every_type(hello):
    html = hello.get("/modules/hello/settings").get_data(as_text=True)
    assert "<html" in html
    expected = {
        "greeting": r'<input class="form-control" type="text" id="setting-hello-greeting" name="greeting"\s+value="Hello"',
        "api_key": r'type="password" id="setting-hello-api_key" name="api_key" value=""',
        "shout": r'type="checkbox" role="switch" id="setting-hello-shout" name="shout" value="1"',
        "repeat": r'type="number" id="setting-hello-repeat" name="repeat" value="1" step="1" inputmode="numeric" min="1" max="5"',
        "tone": r'<select class="form-select" id="setting-hello-tone" name="tone"',
        "website": r'type="url" id="setting-hello-website" name="website"',
        "contact": r'type="email" id="setting-hello-contact" name="contact"',
    }
    for key, pattern in expected.items():
        assert re.search(pattern, html), f"no {key} field like {pattern}"
    assert "The word the page greets you with." in html  # help text
    assert '<option value="friendly" selected>friendly</option>' in html  # default choice
    assert 'id="setting-hello-shout" name="shout" value="1" checked' not in html  # default false


def test_valid_values_are_saved_typed_and_read_through_the_facade(hello, app):
    response = save(hello, greeting="Bonjour", api_key=SECRET, shout=["0", "1"], repeat=" 3 ", tone="formal",
                    website="https://example.org/x?y=1", contact="admin@example.org")
    assert response.status_code == 200
    assert "settings-saved" in response.get_data(as_text=True)
    values = module_settings(app)
    assert values == {"greeting": "Bonjour", "api_key": SECRET, "shout": True, "repeat": 3, "tone": "formal",
                      "website": "https://example.org/x?y=1", "contact": "admin@example.org"}
    assert isinstance(values["repeat"], int) and values["shout"] is True
    save(hello, shout="0")
    assert module_settings(app)["shout"] is False


def test_a_module_reads_its_settings_on_its_page(hello):
    assert "Hello, admin!" in hello.get("/m/hello/").get_data(as_text=True)
    save(hello, greeting="Здравствуйте")
    assert "Здравствуйте, admin!" in hello.get("/m/hello/").get_data(as_text=True)


def test_defaults_before_anything_is_saved(hello, app):
    assert module_settings(app) == {"greeting": "Hello", "api_key": None, "shout": False, "repeat": 1,
                                    "tone": "friendly", "website": None, "contact": None}


@pytest.mark.parametrize("key, value, message", [
    ("repeat", "9", "Enter a whole number from 1 to 5."),
    ("repeat", "0", "Enter a whole number from 1 to 5."),
    ("repeat", "two", "Enter a whole number from 1 to 5."),
    ("repeat", "2.5", "Enter a whole number from 1 to 5."),
    ("tone", "loud", "Choose one of the offered values."),
    ("website", "ftp://example.org/", "Enter an address that starts with http:// or https://."),
    ("website", "javascript:alert(1)", "Enter an address that starts with http:// or https://."),
    ("website", "https://", "Enter an address that starts with http:// or https://."),
    ("contact", "not-an-address", "Enter an email address such as name@example.org."),
    ("contact", "a@b", "Enter an email address such as name@example.org."),
    ("greeting", "x" * 2001, "At most 2000 characters."),
])
def test_invalid_values_are_refused_beside_the_field(hello, app, key, value, message):
    response = save(hello, **{"greeting": "Changed", "shout": "1", key: value})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_error(html, key) == message
    assert 'aria-invalid="true"' in html
    assert module_settings(app)["greeting"] == "Hello"  # nothing saved, not even the valid field
    with app.app_context():
        assert db.session.query(ModuleSetting).count() == 0


def test_what_was_typed_stays_in_the_refused_form(hello):
    html = save(hello, greeting="Typed <b>here</b>", repeat="42").get_data(as_text=True)
    assert 'value="Typed &lt;b&gt;here&lt;/b&gt;"' in html
    assert 'value="42"' in html


def test_empty_optional_fields_clear_them(hello, app):
    save(hello, website="https://example.org", contact="a@example.org")
    assert save(hello, website="", contact="  ").status_code == 200
    values = module_settings(app)
    assert values["website"] is None and values["contact"] is None


def test_a_secret_is_never_sent_back(hello, app):
    assert save(hello, api_key=SECRET).status_code == 200
    for html in (hello.get("/modules/hello/settings").get_data(as_text=True),
                 hello.get("/modules/hello/settings", headers={"HX-Request": "true"}).get_data(as_text=True),
                 save(hello, greeting="Hi").get_data(as_text=True),
                 save(hello, repeat="99").get_data(as_text=True),  # a refused form neither
                 hello.get("/").get_data(as_text=True)):  # nor the dashboard's audit list
        assert SECRET not in html
    html = hello.get("/modules/hello/settings").get_data(as_text=True)
    assert 'name="api_key" value=""' in html
    assert "Leave empty to keep the saved value" in html


def test_leaving_the_secret_empty_keeps_it_and_remove_clears_it(hello, app):
    save(hello, api_key=SECRET)
    save(hello, api_key="", greeting="Hi")
    assert module_settings(app)["api_key"] == SECRET
    save(hello, api_key="", api_key__clear="1")
    assert module_settings(app)["api_key"] is None
    save(hello, api_key="replaced")
    assert module_settings(app)["api_key"] == "replaced"


def test_changes_are_audited_with_secrets_masked(hello, app):
    save(hello, greeting="Salut", api_key=SECRET, repeat="2")
    save(hello, greeting="Salut")  # no change: no event
    with app.app_context():
        events = db.session.query(AuditEvent).filter_by(action="settings_changed").all()
        assert len(events) == 1
        detail = events[0].detail
    assert events[0].slug == "hello"
    assert "greeting: Hello → Salut" in detail and "repeat: 1 → 2" in detail
    assert "api_key: ••••••" in detail and SECRET not in detail


def test_settings_of_a_disabled_module_are_kept_and_editable(hello, app):
    save(hello, greeting="Hola")
    htmx_post(hello, "/modules/hello/disable")
    response = hello.get("/modules/hello/settings")
    assert response.status_code == 200
    assert 'value="Hola"' in response.get_data(as_text=True)
    assert save(hello, greeting="Ciao").status_code == 200
    htmx_post(hello, "/modules/hello/enable")
    assert "Ciao, admin!" in hello.get("/m/hello/").get_data(as_text=True)


def test_plain_form_post_and_errors_without_htmx(hello, app):
    response = hello.post("/modules/hello/settings", data={"greeting": "Plain", "csrf_token": hello.csrf})
    assert response.status_code == 302 and response.headers["Location"].endswith("/modules/hello/settings")
    response = hello.post("/modules/hello/settings", data={"repeat": "x", "csrf_token": hello.csrf})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "<html" in html and field_error(html, "repeat") == "Enter a whole number from 1 to 5."


def test_settings_page_shows_display_options_and_docs_link(hello):
    html = hello.get("/modules/hello/settings").get_data(as_text=True)
    assert 'id="display-hello"' in html and 'id="tab-display"' in html
    docs = re.search(r'<a href="https://example.org/docs/hello"[^>]*>', html)
    assert docs and 'target="_blank"' in docs.group(0) and 'rel="noopener"' in docs.group(0)
    assert 'aria-selected="true"' in html
    display_tab = hello.get("/modules/hello/settings?tab=display").get_data(as_text=True)
    assert 'id="pane-display" role="tabpanel"' in display_tab
    assert re.search(r'class="tab-pane fade show active" id="pane-display"', display_tab)


def test_integer_bounds_of_another_module(app, admin_client, tmp_path):
    import json
    import shutil

    from conftest import SOURCES

    source = tmp_path / "notes"
    shutil.copytree(SOURCES / "notes", source, ignore=shutil.ignore_patterns("migrations", "__pycache__"))
    (source / "__init__.py").write_text("def setup(api):\n    pass\n", encoding="utf-8")
    assert json.loads((source / "module.json").read_text())["settings"][0]["key"] == "max_notes"
    install_sample(app, "notes", source)
    response = htmx_post(admin_client, "/modules/notes/settings", data={"max_notes": "501"})
    assert response.status_code == 422
    assert re.search(r'id="setting-notes-max_notes-error">Enter a whole number from 1 to 500\.<',
                     response.get_data(as_text=True))
    assert htmx_post(admin_client, "/modules/notes/settings", data={"max_notes": "500"}).status_code == 200


def test_a_module_without_settings_and_an_unknown_module(app, admin_client, tmp_path):
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "module.json").write_text('{"slug": "plain", "name": "Plain", "version": "1.0"}', encoding="utf-8")
    (folder / "__init__.py").write_text("def setup(api):\n    pass\n", encoding="utf-8")
    install_sample(app, "plain", folder)
    assert "This module has no settings." in admin_client.get("/modules/plain/settings").get_data(as_text=True)
    assert admin_client.get("/modules/ghost/settings").status_code == 404
    assert htmx_post(admin_client, "/modules/ghost/settings", data={"x": "1"}).status_code == 404
