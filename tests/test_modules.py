"""/modules: cards, live toggles, search, page-or-fragment; and each action on one module (enable, disable,
roll back, uninstall)."""

import json
import re
import time
from html.parser import HTMLParser

import pytest
from installer_kit import package
from test_upload import token_of, upload, version_of

from conftest import SOURCES, htmx_post, install_sample, shown_counts
from panel.extensions import db
from panel.models import Module
from panel.services import modules as module_service

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class TopLevel(HTMLParser):
    """The top-level elements of a fragment, as (tag, attributes); text outside them is kept too."""

    def __init__(self):
        super().__init__()
        self.depth = 0
        self.elements = []
        self.stray_text = ""

    def handle_starttag(self, tag, attrs):
        if self.depth == 0:
            self.elements.append((tag, dict(attrs)))
        if tag not in VOID:
            self.depth += 1

    def handle_endtag(self, tag):
        if tag not in VOID:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth == 0:
            self.stray_text += data.strip()


def top_level(html: str) -> TopLevel:
    parser = TopLevel()
    parser.feed(html)
    parser.close()
    assert parser.depth == 0, "unbalanced markup"
    return parser


def assert_card_and_sidebar_only(response, slug, state):
    assert response.status_code == 200
    parsed = top_level(response.get_data(as_text=True))
    assert parsed.stray_text == ""
    card, *out_of_band = (attrs for _, attrs in parsed.elements)
    assert card["id"] == f"module-{slug}" and card["data-state"] == state
    # Out of band: that module's sidebar entry (taken out, put back where it belongs), the counts.
    assert out_of_band[0] == {"id": f"sidebar-module-{slug}", "hx-swap-oob": "delete"}
    assert out_of_band[-1]["id"] == "module-counts" and out_of_band[-1]["hx-swap-oob"] == "true"
    assert all("hx-swap-oob" in attrs for attrs in out_of_band)
    assert "sidebar" not in {attrs.get("id") for attrs in out_of_band}  # never the whole sidebar
    assert "<html" not in response.get_data(as_text=True)


@pytest.fixture
def hello(app, admin_client):
    install_sample(app, "hello")
    return admin_client


def test_the_list_shows_a_card_per_module(app, hello):
    install_sample(app, "notes")
    html = hello.get("/modules").get_data(as_text=True)
    assert html.startswith("<!doctype html>")
    card = re.search(r'id="module-hello" data-state="disabled".*?</article>', html, re.S).group(0)
    for text in ("Hello", "v1.2.0", "Tools", "Module Panel team", "Greets the administrator",
                 'href="https://example.org/docs/hello"', "Disabled", "Enable"):
        assert text in card, text
    assert 'id="module-notes" data-state="disabled"' in html
    assert html.index('id="module-hello"') < html.index('id="module-notes"')  # by name


def test_enable_answers_with_the_card_and_the_sidebar_and_nothing_more(hello):
    response = htmx_post(hello, "/modules/hello/enable")
    assert_card_and_sidebar_only(response, "hello", "enabled")
    html = response.get_data(as_text=True)
    assert 'data-module="hello"' in html and 'href="/m/hello/"' in html  # the sidebar entry
    assert "Disable" in html
    assert len(response.data) <= 4096, f"toggle answer is {len(response.data)} bytes; goal <= 4 KB"

    response = htmx_post(hello, "/modules/hello/disable")
    assert_card_and_sidebar_only(response, "hello", "disabled")
    assert 'data-module="hello"' not in response.get_data(as_text=True)


def test_a_failed_enable_also_answers_with_card_and_sidebar(app, hello):
    install_sample(app, "broken")
    assert_card_and_sidebar_only(htmx_post(hello, "/modules/broken/enable"), "broken", "failed")


def test_the_counts_in_each_toggle_answer_are_the_rows_in_each_state(app, hello):
    """A toggle's counts are worked out from the counts before it (not counted again): after any
    run of switches, with a failure and a switch from the command line among them, they are what
    the rows say."""
    install_sample(app, "notes")
    install_sample(app, "broken")
    steps = [("hello", "enable"), ("notes", "enable"), ("broken", "enable"), ("hello", "disable"),
             ("hello", "disable"), ("cli", "notes"), ("notes", "enable"), ("notes", "disable"),
             ("hello", "enable"), ("notes", "enable")]
    for slug, action in steps:
        if slug == "cli":  # another process switches a module off
            with app.app_context():
                module_service.disable(action, "cli")
            continue
        html = htmx_post(hello, f"/modules/{slug}/{action}").get_data(as_text=True)
        with app.app_context():
            rows = dict(db.session.execute(db.select(Module.state, db.func.count()).group_by(Module.state)).all())
        assert shown_counts(html) == {state: rows.get(state, 0) for state in ("enabled", "disabled", "failed")}


def test_toggling_twice_is_harmless(hello):
    for _ in range(2):
        assert_card_and_sidebar_only(htmx_post(hello, "/modules/hello/enable"), "hello", "enabled")
    assert hello.get("/m/hello/").status_code == 200
    for _ in range(2):
        assert_card_and_sidebar_only(htmx_post(hello, "/modules/hello/disable"), "hello", "disabled")
    assert hello.get("/m/hello/").status_code == 404
    dashboard = hello.get("/").get_data(as_text=True)
    assert dashboard.count("<span>enabled</span>") == 1 and dashboard.count("<span>disabled</span>") == 1


def test_the_dashboard_counts_modules_and_shows_who_did_what(app, hello):
    install_sample(app, "broken")
    htmx_post(hello, "/modules/hello/enable")
    htmx_post(hello, "/modules/broken/enable")
    html = hello.get("/").get_data(as_text=True)
    assert re.search(r'data-count="installed">3<', html) is None  # only two installed
    assert 'data-count="installed">2<' in html
    assert 'data-count="enabled">1<' in html and 'data-count="failed">1<' in html
    assert "<strong>admin</strong>" in html and "failed to enable" in html and "<code>hello</code>" in html


@pytest.mark.parametrize("action", ["enable", "disable"])
def test_an_unknown_module_gets_a_clear_404(hello, action):
    response = htmx_post(hello, f"/modules/nosuch/{action}")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "There is no installed module named “nosuch”." in html
    assert response.headers["HX-Retarget"] == "#toasts" and "toast-message" in html

    page = hello.post(f"/modules/nosuch/{action}", data={"csrf_token": hello.csrf})
    assert page.status_code == 404
    assert "There is no installed module named “nosuch”." in page.get_data(as_text=True)
    assert "<html" in page.get_data(as_text=True)


def test_a_toggle_without_csrf_token_shows_an_error_not_a_blank_swap(hello):
    response = hello.post("/modules/hello/enable", headers={"HX-Request": "true"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "security token" in html and "toast-message" in html
    assert response.headers["HX-Retarget"] == "#toasts"
    assert response.headers["HX-Reswap"] == "beforeend"
    assert 'id="module-hello"' not in html
    bad = htmx_post(hello, "/modules/hello/enable", token="not-a-token")
    assert bad.status_code == 400 and "security token" in bad.get_data(as_text=True)
    assert hello.get("/m/hello/").status_code == 404  # nothing changed

    plain = hello.post("/modules/hello/enable")
    assert plain.status_code == 400 and "security token" in plain.get_data(as_text=True)
    assert "<html" in plain.get_data(as_text=True)


def test_a_toggle_without_javascript_comes_back_to_the_full_list(hello):
    response = hello.post("/modules/hello/enable", data={"csrf_token": hello.csrf})
    assert response.status_code in (302, 303)
    assert response.headers["Location"].endswith("/modules")
    page = hello.get("/modules").get_data(as_text=True)
    assert 'id="module-hello" data-state="enabled"' in page and "<html" in page


def test_the_toggle_is_a_post(hello):
    assert hello.get("/modules/hello/enable").status_code == 405


def test_active_search_by_name_and_description(app, hello):
    install_sample(app, "notes")
    fragment = hello.get("/modules?q=GREETS", headers={"HX-Request": "true"})
    parsed = top_level(fragment.get_data(as_text=True))
    assert [(tag, attrs.get("id")) for tag, attrs in parsed.elements] == [("div", "module-list")]
    html = fragment.get_data(as_text=True)
    assert 'id="module-hello"' in html and 'id="module-notes"' not in html

    html = hello.get("/modules?q=notes", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'id="module-notes"' in html and 'id="module-hello"' not in html
    html = hello.get("/modules?q=zzz-nothing", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "No module matches." in html
    # LIKE wildcards are plain characters to the administrator.
    html = hello.get("/modules?q=%25", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "No module matches." in html


def test_state_filter(app, hello):
    install_sample(app, "notes")
    install_sample(app, "broken")
    htmx_post(hello, "/modules/hello/enable")
    htmx_post(hello, "/modules/broken/enable")

    def slugs(query):
        html = hello.get(f"/modules?{query}", headers={"HX-Request": "true"}).get_data(as_text=True)
        return re.findall(r'id="module-(\w+)" data-state', html)

    assert slugs("state=enabled") == ["hello"]
    assert slugs("state=disabled") == ["notes"]
    assert slugs("state=failed") == ["broken"]
    assert slugs("state=") == ["broken", "hello", "notes"]
    assert slugs("state=bogus") == ["broken", "hello", "notes"]
    assert slugs("state=disabled&q=hello") == []
    page = hello.get("/modules?state=failed&q=bro").get_data(as_text=True)
    assert '<option value="failed" selected' in page and 'value="bro"' in page


@pytest.mark.parametrize("headers, fragment", [
    ({}, False),
    ({"HX-Request": "true"}, True),
    ({"HX-Request": "true", "HX-Boosted": "true"}, False),
    ({"HX-Request": "true", "HX-History-Restore-Request": "true"}, False),
    ({"HX-Request": "false"}, False),
])
def test_page_or_fragment_is_decided_by_htmx_headers(hello, headers, fragment):
    response = hello.get("/modules", headers=headers)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert ("<html" in html) is not fragment
    assert ('id="module-list"' in html)
    vary = [part.strip() for part in response.headers.get("Vary", "").split(",")]
    assert vary.count("HX-Request") == 1 and vary.count("Cookie") == 1  # the page reads the session
    assert response.headers.get("Cache-Control") == "no-store"


def test_card_text_from_the_module_is_escaped(app, hello, tmp_path):
    import shutil

    folder = tmp_path / "evil"
    shutil.copytree(SOURCES / "hello", folder)
    data = json.loads((folder / "module.json").read_text())
    data.update(slug="evil", name="<script>alert(1)</script>", author='"><img src=x onerror=alert(1)>',
                description="<b>bold</b>")
    (folder / "module.json").write_text(json.dumps(data))
    install_sample(app, "evil", folder)
    html = hello.get("/modules").get_data(as_text=True)
    assert "<script>alert(1)" not in html and "&lt;script&gt;" in html
    assert "<img src=x" not in html and "<b>bold</b>" not in html


def test_cards_and_sidebar_reused_between_visits_follow_the_language_and_each_change(app, admin_client):
    """Cards and the sidebar are reused from one request to the next: a new language, a switch
    made elsewhere or a new name must each show at once, never a copy made for another case."""
    from conftest import install_sample

    install_sample(app, "hello")
    htmx_post(admin_client, "/modules/hello/enable")
    english = admin_client.get("/modules").get_data(as_text=True)
    assert ">Enabled<" in english and "TOOLS" in english.upper()

    french = admin_client.get("/modules", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert ">Activé<" in french and ">Enabled<" not in french
    assert "Désactiver" in french
    assert re.search(r'class="sidebar-heading[^"]*">Outils<', french)

    def behind_this_workers_back(**columns):
        with app.app_context():
            from panel.extensions import db
            from panel.models import Module

            module = db.session.get(Module, "hello")
            for column, value in columns.items():
                setattr(module, column, value)
            db.session.commit()

    behind_this_workers_back(name="Hello renamed", custom_label="Hi there")
    html = admin_client.get("/modules").get_data(as_text=True)
    assert "Hello renamed" in html and re.search(r'data-module="hello"><a [^>]*>.*Hi there</a>', html)
    behind_this_workers_back(state="disabled")
    html = admin_client.get("/modules").get_data(as_text=True)
    assert 'id="module-hello" data-state="disabled"' in html
    assert 'data-module="hello"' not in html  # gone from the sidebar too


# --- roll back and uninstall ------------------------------------------------------------------------

def test_card_rollback_and_uninstall(app, admin_client, tmp_path):
    install_sample(app, "hello")
    admin_client.post("/modules/hello/enable", data={"csrf_token": admin_client.csrf})
    html = admin_client.get("/modules").get_data(as_text=True)
    assert 'href="/modules/hello/uninstall"' in html and "Roll back" not in html
    page = admin_client.get("/modules/hello/uninstall").get_data(as_text=True)
    assert "Uninstall Hello" in page and 'name="delete_data"' in page and "uninstall-button\" disabled" not in page
    token = token_of(upload(admin_client, package(tmp_path, version="1.3.0")).get_data(as_text=True))
    htmx_post(admin_client, f"/modules/upload/{token}/install")
    response = htmx_post(admin_client, "/modules/hello/rollback")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="module-hello"' in html and 'data-state="enabled"' in html
    assert "v1.2.0" in html and "Return to 1.3.0" in html and 'hx-swap-oob="true"' in html
    assert "went from 1.3.0 back to 1.2.0" in html
    response = htmx_post(admin_client, "/modules/hello/uninstall")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="module-hello"' not in html and 'id="sidebar"' in html
    assert "uninstalled; its data was kept" in html
    assert version_of(app) is None
    response = htmx_post(admin_client, "/modules/hello/uninstall")
    assert response.status_code == 404


def test_uninstall_without_htmx_redirects(app, admin_client):
    install_sample(app, "notes")
    response = admin_client.post("/modules/notes/uninstall", data={"csrf_token": admin_client.csrf,
                                                                   "delete_data": "1"})
    assert response.status_code == 303 and version_of(app, "notes") is None
    assert "its data deleted" in admin_client.get("/modules").get_data(as_text=True)


def test_uninstall_page_names_the_modules_that_need_it(app, admin_client, tmp_path):
    install_sample(app, "hello")
    admin_client.post("/modules/hello/enable", data={"csrf_token": admin_client.csrf})
    token = token_of(upload(admin_client, package(tmp_path, slug="notes", requires={"hello": ">=1"})).get_data(as_text=True))
    htmx_post(admin_client, f"/modules/upload/{token}/install")
    admin_client.post("/modules/notes/enable", data={"csrf_token": admin_client.csrf})
    page = admin_client.get("/modules/hello/uninstall").get_data(as_text=True)
    assert "needed by Notes" in page and "Disable Notes as well" in page
    response = htmx_post(admin_client, "/modules/hello/uninstall")
    assert response.status_code == 409 and "needed by Notes" in response.get_data(as_text=True)
    assert version_of(app) == ("1.2.0", "enabled")
    response = htmx_post(admin_client, "/modules/hello/uninstall", {"disable_dependants": "1"})
    assert response.status_code == 200
    with app.app_context():
        assert db.session.get(Module, "hello") is None and db.session.get(Module, "notes").state == "disabled"


def test_a_folder_changed_just_now_is_looked_at_again_a_tenth_of_a_second_later_not_on_every_request(
        app, admin_client, monkeypatch):
    """Within a second of a change (one mtime tick may hide a second copy) the folder is listed
    again, but at most every tenth of a second: a thousand modules cost 16 ms a page otherwise."""
    import os
    from pathlib import Path

    import time_machine

    from panel.services import modules as modules_service

    root = Path(app.config["MODULES_PATH"])
    listed = []
    real_discover = modules_service.discover
    monkeypatch.setattr(modules_service, "discover", lambda actor="system": listed.append(1) or real_discover(actor))
    with time_machine.travel(time.time(), tick=False) as clock:
        os.utime(root, ns=(time.time_ns(), time.time_ns()))  # the folder changed just now
        admin_client.get("/modules")
        admin_client.get("/modules")
        assert len(listed) == 1
        clock.shift(0.15)
        admin_client.get("/modules")
        admin_client.get("/modules")
        assert len(listed) == 2
        clock.shift(1.5)  # a second after the change: the mtime says all there is
        admin_client.get("/modules")
        clock.shift(0.15)
        admin_client.get("/modules")
        assert len(listed) == 3


def test_a_folder_copied_in_by_hand_appears_and_an_unchanged_folder_is_not_listed_again(app, admin_client, tmp_path,
                                                                                        monkeypatch):
    import os
    from pathlib import Path

    from conftest import make_menu_module
    from panel.services import modules as modules_service

    root = Path(app.config["MODULES_PATH"])
    listed = []
    real_discover = modules_service.discover
    monkeypatch.setattr(modules_service, "discover", lambda actor="system": listed.append(1) or real_discover(actor))
    make_menu_module(root / "by_hand", "by_hand", "By hand")
    os.utime(root, ns=(root.stat().st_atime_ns, root.stat().st_mtime_ns - 5_000_000_000))  # changed 5 s ago
    assert 'id="module-by_hand"' in admin_client.get("/modules").get_data(as_text=True)
    assert len(listed) == 1
    admin_client.get("/modules")
    admin_client.get("/modules?page=1")
    assert len(listed) == 1  # the folder did not change: not listed again
    make_menu_module(root / "second", "second", "Second")  # the folder's mtime moves on
    assert 'id="module-second"' in admin_client.get("/modules").get_data(as_text=True)
    assert len(listed) == 2
