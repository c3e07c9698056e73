"""Sidebar quick access: display options (shown, section, custom name, position), menu sections, order."""

import re
from html.parser import HTMLParser

import pytest
from conftest import PASSWORD, htmx_post, install_sample, make_menu_module, sign_in

from panel import create_app
from panel.extensions import db
from panel.models import AuditEvent, MenuSection, Module


class SidebarParser(HTMLParser):
    """`<nav id="sidebar">` → {section key: [(slug, label), …]} in document order, plus headings."""

    def __init__(self):
        super().__init__()
        self.sections, self.headings, self.oob = {}, {}, False
        self.depth = 0  # >0 while inside the sidebar nav
        self.section = None
        self.item = None
        self.in_heading = False
        self.found = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "nav" and attrs.get("id") == "sidebar" and not self.found:
            self.found, self.depth, self.oob = True, 1, attrs.get("hx-swap-oob") == "true"
            return
        if not self.depth:
            return
        if tag == "nav":
            self.depth += 1
        classes = (attrs.get("class") or "").split()
        if "data-section" in attrs and "sidebar-section" in classes:
            self.section = attrs["data-section"]
            self.sections[self.section] = []
        elif "sidebar-heading" in classes:
            self.in_heading = True
            self.headings[self.section] = ""
        elif tag == "li" and "data-module" in attrs and self.section:
            self.item = [attrs["data-module"], ""]
            self.sections[self.section].append(self.item)

    def handle_endtag(self, tag):
        if not self.depth:
            return
        if tag == "nav":
            self.depth -= 1
        elif tag == "div" and self.in_heading:
            self.in_heading = False
        elif tag == "li":
            self.item = None

    def handle_data(self, data):
        if not self.depth:
            return
        if self.in_heading:
            self.headings[self.section] += data
        elif self.item is not None:
            self.item[1] = (self.item[1] + data).strip()


def sidebar_of(html: str) -> SidebarParser:
    parser = SidebarParser()
    parser.feed(html)
    assert parser.found, "no <nav id=\"sidebar\"> in the answer"
    return parser


def entries(html: str) -> dict[str, list[tuple[str, str]]]:
    return {key: [tuple(item) for item in items] for key, items in sidebar_of(html).sections.items() if items}


def where(html: str, slug: str):
    for key, items in entries(html).items():
        for index, (entry, label) in enumerate(items):
            if entry == slug:
                return key, index, label
    return None


@pytest.fixture
def panel(app, admin_client, tmp_path):
    """hello and a second module, notes, installed and enabled; both in the "tools" section."""
    install_sample(app, "hello")
    install_sample(app, "notes", make_menu_module(tmp_path / "src" / "notes", "notes", "Notes"))
    for slug in ("hello", "notes"):
        assert htmx_post(admin_client, f"/modules/{slug}/enable").status_code == 200
    return admin_client


def post_display(client, slug="hello", **fields):
    return htmx_post(client, f"/modules/{slug}/display", data=fields)


def stored(app, slug="hello") -> Module:
    with app.app_context():
        module = db.session.get(Module, slug)
        db.session.expunge(module)
        return module


# --- each option is saved and shows in the out-of-band sidebar ----------------------------------

@pytest.mark.parametrize("label", ["Лицензии", "Paiements", "支払い", "Tom & Jerry's"])
def test_custom_name_in_any_script_is_saved_and_shown(panel, app, label):
    response = post_display(panel, label=f"  {label}  ")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="display-hello"' in html  # the form comes back…
    assert sidebar_of(html).oob  # …with the sidebar out of band
    assert where(html, "hello") == ("tools", 0, label)  # trimmed, first of its section as before
    assert stored(app).custom_label == label
    assert where(panel.get("/").get_data(as_text=True), "hello")[2] == label


def test_names_are_shown_as_plain_text(panel):
    html = post_display(panel, label='Tom & "Jerry"').get_data(as_text=True)
    assert "Tom &amp; &#34;Jerry&#34;" in html
    assert 'Tom & "Jerry"' not in html


def test_hiding_and_showing_the_entry(panel, app):
    html = post_display(panel, show_in_sidebar=["0"]).get_data(as_text=True)
    assert where(html, "hello") is None
    assert where(html, "notes") is not None
    assert stored(app).show_in_sidebar is False
    html = post_display(panel, show_in_sidebar=["0", "1"]).get_data(as_text=True)  # hidden 0 + checked box
    assert where(html, "hello")[0] == "tools"


def test_moving_to_another_section(panel, app):
    html = post_display(panel, section="payments").get_data(as_text=True)
    assert where(html, "hello")[0] == "payments"
    assert [slug for slug, _ in entries(html)["tools"]] == ["notes"]
    assert stored(app).section_key == "payments"


def test_position_within_the_section(panel):
    html = panel.get("/").get_data(as_text=True)
    assert [slug for slug, _ in entries(html)["tools"]] == ["hello", "notes"]
    html = post_display(panel, slug="notes", position="1").get_data(as_text=True)
    assert [slug for slug, _ in entries(html)["tools"]] == ["notes", "hello"]
    html = post_display(panel, slug="notes", position="99").get_data(as_text=True)  # past the end: last
    assert [slug for slug, _ in entries(html)["tools"]] == ["hello", "notes"]


def test_an_absent_field_keeps_its_value(panel, app):
    post_display(panel, label="Привет")
    post_display(panel, section="payments")
    module = stored(app)
    assert (module.custom_label, module.section_key, module.show_in_sidebar) == ("Привет", "payments", True)


def test_the_forty_character_limit_is_inclusive(panel, app):
    assert post_display(panel, label="я" * 40).status_code == 200
    assert stored(app).custom_label == "я" * 40


# --- invalid input: the form with the error beside the field, 422, nothing saved ---------------

@pytest.mark.parametrize("label, message", [
    ("", "Enter a name of 1 to 40 characters."),
    ("     ", "Enter a name of 1 to 40 characters."),
    ("x" * 41, "The name is too long: at most 40 characters."),
    ("<b>Pay</b>", "The name is plain text: it may not contain “<” or “>”."),
    ("<script>alert(1)</script>", "The name is plain text: it may not contain “<” or “>”."),
])
def test_invalid_names_are_refused_beside_the_field(panel, app, label, message):
    response = post_display(panel, label=label, section="payments", show_in_sidebar="0")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error = re.search(r'id="display-hello-label-error">([^<]*)<', html)
    assert error and error.group(1) == message.replace("“", "“").replace("<", "&lt;").replace(">", "&gt;")
    assert "<script>alert(1)</script>" not in html
    module = stored(app)
    assert (module.custom_label, module.section_key, module.show_in_sidebar) == (None, "tools", True)
    assert where(html, "hello") == ("tools", 0, "Hello")


def test_unknown_section_is_refused_beside_the_field(panel, app):
    response = post_display(panel, section="nowhere", label="Renamed")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error = re.search(r'id="display-hello-section-error">([^<]*)<', html)
    assert error and error.group(1) == "Choose one of the existing menu sections."
    assert stored(app).custom_label is None
    assert 'value="Renamed"' in html  # what was typed stays in the form


def test_bad_position_is_refused(panel, app):
    response = post_display(panel, position="first", label="Renamed")
    assert response.status_code == 422
    assert 'id="display-hello-position-error"' in response.get_data(as_text=True)
    assert stored(app).custom_label is None


def test_display_needs_a_csrf_token(panel, app):
    response = panel.post("/modules/hello/display", data={"label": "No token"}, headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert stored(app).custom_label is None


def test_unknown_module_is_404(panel):
    assert post_display(panel, slug="ghost", label="x").status_code == 404


# --- reset, disabled modules, plain forms ---------------------------------------------------------

def test_reset_returns_to_the_manifest_defaults(panel, app):
    post_display(panel, label="Custom", section="payments", show_in_sidebar="0")
    response = htmx_post(panel, "/modules/hello/display/reset")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert where(html, "hello")[0::2] == ("tools", "Hello")
    module = stored(app)
    assert (module.custom_label, module.section_key, module.show_in_sidebar) == (None, "tools", True)


def test_a_disabled_module_keeps_its_options(panel, app):
    post_display(panel, label="Лицензии", section="payments")
    htmx_post(panel, "/modules/hello/disable")
    assert where(panel.get("/").get_data(as_text=True), "hello") is None
    html = htmx_post(panel, "/modules/hello/enable").get_data(as_text=True)
    assert 'id="sidebar-section-payments"' in html and "Лицензии" in html  # its section comes back with it
    assert where(panel.get("/").get_data(as_text=True), "hello") == ("payments", 0, "Лицензии")
    # a disabled module's options can be changed too, and apply when it comes back
    htmx_post(panel, "/modules/hello/disable")
    assert post_display(panel, label="Paiements").status_code == 200
    htmx_post(panel, "/modules/hello/enable")
    assert where(panel.get("/").get_data(as_text=True), "hello")[2] == "Paiements"


def test_plain_form_post_redirects_to_the_settings_page(panel, app):
    response = panel.post("/modules/hello/display", data={"label": "Plain", "csrf_token": panel.csrf})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/modules/hello/settings?tab=display")
    page = panel.get(response.headers["Location"]).get_data(as_text=True)
    assert where(page, "hello")[2] == "Plain"
    response = panel.post("/modules/hello/display", data={"label": "", "csrf_token": panel.csrf})
    assert response.status_code == 422
    assert "Enter a name of 1 to 40 characters." in response.get_data(as_text=True)


def test_changes_are_audited(panel, app):
    post_display(panel, label="Audited")
    with app.app_context():
        event = db.session.query(AuditEvent).filter_by(action="display_changed").one()
        assert event.slug == "hello" and "Audited" in event.detail


# --- the card: gear, settings, docs ------------------------------------------------------------------

def test_card_has_gear_settings_and_docs_links(panel):
    html = panel.get("/modules").get_data(as_text=True)
    card = html[html.index('id="module-hello"'):]
    card = card[: card.index('id="module-notes"')] if 'id="module-notes"' in card else card
    assert 'hx-get="/modules/hello/display?dialog=1"' in card and "bi-gear" in card
    assert 'href="/modules/hello/settings"' in card
    docs = re.search(r'<a href="https://example.org/docs/hello"[^>]*>', card)
    assert docs and 'target="_blank"' in docs.group(0) and "noopener" in docs.group(0)
    dialog = panel.get("/modules/hello/display?dialog=1", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'class="modal fade text-start display-dialog"' in dialog and 'id="display-hello"' in dialog
    assert "<html" not in dialog
    fragment = panel.get("/modules/hello/display", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'id="display-hello"' in fragment and "modal" not in fragment
    response = panel.get("/modules/hello/display")  # a plain visit lands on the settings page's tab
    assert response.status_code == 302 and response.headers["Location"].endswith("/modules/hello/settings?tab=display")


# --- sidebar edit mode: drag order, keyboard moves, restarts -------------------------------------------

def test_edit_mode_lists_every_section_with_move_buttons(panel):
    html = panel.get("/sidebar?edit=1", headers={"HX-Request": "true"}).get_data(as_text=True)
    parser = sidebar_of(html)
    assert set(parser.sections) == {"modules", "payments", "providers", "tools"}  # empty ones too: drop targets
    assert 'data-sortable="sidebar"' in html
    assert 'data-move="hello:down"' in html and 'data-move="notes:up"' in html
    normal = panel.get("/sidebar", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "data-sortable=" not in normal and set(sidebar_of(normal).sections) == {"tools"}


def test_drag_order_is_saved_across_sections(panel, app):
    order = ["section:modules", "section:payments", "module:notes", "section:providers",
             "section:tools", "module:hello"]
    response = htmx_post(panel, "/sidebar/order", data={"order": order})
    assert response.status_code == 200
    html = panel.get("/").get_data(as_text=True)
    assert entries(html) == {"payments": [("notes", "Notes")], "tools": [("hello", "Hello")]}
    order = ["section:tools", "module:notes", "module:hello"]
    htmx_post(panel, "/sidebar/order", data={"order": order})
    assert [slug for slug, _ in entries(panel.get("/").get_data(as_text=True))["tools"]] == ["notes", "hello"]


def test_keyboard_move_buttons(panel):
    response = htmx_post(panel, "/sidebar/move", data={"slug": "hello", "direction": "down"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert [slug for slug, _ in entries(html)["tools"]] == ["notes", "hello"]
    assert 'data-focus="hello:down"' in html  # the script puts the focus back on the button
    htmx_post(panel, "/sidebar/move", data={"slug": "hello", "direction": "down"})  # already last: no-op
    htmx_post(panel, "/sidebar/move", data={"slug": "hello", "direction": "up"})
    assert [slug for slug, _ in entries(panel.get("/").get_data(as_text=True))["tools"]] == ["hello", "notes"]


def test_order_is_kept_across_restarts(panel, app, tmp_path):
    htmx_post(panel, "/sidebar/order", data={"order": ["section:tools", "module:notes", "module:hello"]})
    post_display(panel, slug="hello", label="Лицензии", section="providers")
    with app.app_context():
        db.engine.dispose()
    restarted = create_app({"TESTING": True, "INSTANCE_PATH": app.instance_path, "SECRET_KEY": "test-secret"})
    try:
        client = restarted.test_client()
        sign_in(client, password=PASSWORD)
        html = client.get("/").get_data(as_text=True)
        assert entries(html) == {"providers": [("hello", "Лицензии")], "tools": [("notes", "Notes")]}
        htmx_post(client, "/modules/hello/display", data={"section": "tools", "position": "1"},
                  token=re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1))
        html = client.get("/").get_data(as_text=True)
        assert [slug for slug, _ in entries(html)["tools"]] == ["hello", "notes"]
    finally:
        with restarted.app_context():
            db.engine.dispose()


# --- menu sections -----------------------------------------------------------------------------------

def sections_post(client, path, **data):
    return htmx_post(client, path, data=data)


def test_add_rename_and_reorder_sections(panel, app):
    response = sections_post(panel, "/sections", label="  Лицензии  ")
    assert response.status_code == 200
    with app.app_context():
        section = db.session.query(MenuSection).filter_by(label="Лицензии").one()
        key = section.key
    form = panel.get("/modules/hello/display", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert f'<option value="{key}">Лицензии</option>' in form
    html = post_display(panel, section=key).get_data(as_text=True)
    assert sidebar_of(html).headings[key] == "Лицензии"

    assert sections_post(panel, f"/sections/{key}/rename", label="Licences").status_code == 200
    html = panel.get("/").get_data(as_text=True)
    assert sidebar_of(html).headings[key] == "Licences"

    sections_post(panel, f"/sections/{key}/move", direction="up")  # last → before tools
    with app.app_context():
        order = [s.key for s in db.session.query(MenuSection).order_by(MenuSection.position)]
    assert order[-2:] == [key, "tools"]
    html = panel.get("/").get_data(as_text=True)
    assert list(entries(html)) == [key, "tools"]


@pytest.mark.parametrize("label, message", [
    ("", "Enter a name of 1 to 40 characters."),
    ("   ", "Enter a name of 1 to 40 characters."),
    ("y" * 41, "The name is too long: at most 40 characters."),
    ("<i>x</i>", "The name is plain text: it may not contain “&lt;” or “&gt;”."),
    ("tools", "A menu section named “tools” already exists."),
])
def test_invalid_section_names_are_refused(panel, app, label, message):
    response = sections_post(panel, "/sections", label=label)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error = re.search(r'id="section-new-label-error">([^<]*)<', html)
    assert error and error.group(1) == message
    with app.app_context():
        assert db.session.query(MenuSection).count() == 4


def test_renaming_a_builtin_section_shows_the_administrators_text(panel):
    response = sections_post(panel, "/sections/tools/rename", label="Outils & co")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert sidebar_of(html).headings["tools"] == "Outils & co"
    assert "Outils &amp; co" in html
    response = sections_post(panel, "/sections/tools/rename", label="<b>")
    assert response.status_code == 422
    assert 'id="section-tools-error"' in response.get_data(as_text=True)


def test_deleting_a_section_with_modules_asks_then_moves_them(panel, app):
    response = sections_post(panel, "/sections/tools/delete")
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "section-delete-confirm" in html and "holds 2 modules" in html
    with app.app_context():
        assert db.session.get(MenuSection, "tools") is not None
    response = sections_post(panel, "/sections/tools/delete", confirm="1")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "2 modules moved" in html
    assert entries(html) == {"modules": [("hello", "Hello"), ("notes", "Notes")]}
    with app.app_context():
        assert db.session.get(MenuSection, "tools") is None
        assert {m.section_key for m in db.session.query(Module)} == {"modules"}
    # the display form no longer offers it, and posting it is refused
    assert post_display(panel, section="tools").status_code == 422


def test_deleting_an_empty_section_and_the_default_one(panel, app):
    assert sections_post(panel, "/sections/payments/delete").status_code == 200
    response = sections_post(panel, "/sections/modules/delete", confirm="1")
    assert response.status_code == 409
    assert response.headers.get("HX-Retarget") == "#toasts"
    with app.app_context():
        assert {s.key for s in db.session.query(MenuSection)} == {"modules", "providers", "tools"}


def test_sections_page_works_without_script(panel, app):
    html = panel.get("/sections").get_data(as_text=True)
    assert "<html" in html and 'id="sections-panel"' in html
    response = panel.post("/sections/tools/delete", data={"csrf_token": panel.csrf})
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "<html" in html and 'name="confirm" value="1"' in html


def test_one_rule_places_an_entry_in_its_section():
    from panel.services.sidebar import resolve_section

    assert resolve_section("mine", "tools", ["modules", "tools", "mine"]) == "mine"  # the administrator's choice
    assert resolve_section("gone", "tools", ["modules", "tools"]) == "tools"  # a deleted choice falls through
    assert resolve_section(None, "gone", ["tools", "modules"]) == "modules"  # then the default section
    assert resolve_section(None, None, ["tools", "extra"]) == "tools"  # then the first, in sidebar order
    assert resolve_section("x", "y", []) is None


def test_after_any_run_of_toggles_the_sidebar_is_the_one_a_restarted_panel_builds(panel, app, tmp_path):
    """A toggle answers with its entry put where the kept sidebar says, and the next pages reuse
    that sidebar: after toggles in several sections, in and out of order, it is the sidebar a
    panel started afresh on the same database builds from the rows."""
    for slug, section in (("alpha", "tools"), ("beta", "payments"), ("gamma", "tools"), ("delta", "modules")):
        install_sample(app, slug, make_menu_module(tmp_path / "more" / slug, slug, slug.title(), section))
    post_display(panel, slug="notes", position="1")  # notes before hello in tools
    steps = [("gamma", "enable"), ("alpha", "enable"), ("hello", "disable"), ("beta", "enable"),
             ("delta", "enable"), ("alpha", "disable"), ("hello", "enable"), ("beta", "disable"),
             ("alpha", "enable")]
    for slug, action in steps:
        assert htmx_post(panel, f"/modules/{slug}/{action}").status_code == 200
    served = entries(panel.get("/").get_data(as_text=True))
    assert served["tools"][0][0] == "notes" and {"gamma", "alpha", "hello"} <= {s for s, _ in served["tools"]}
    with app.app_context():
        db.engine.dispose()
    restarted = create_app({"TESTING": True, "INSTANCE_PATH": app.instance_path, "SECRET_KEY": "test-secret",
                            "MIGRATE_AT_START": False})
    try:
        client = restarted.test_client()
        sign_in(client, password=PASSWORD)
        assert entries(client.get("/").get_data(as_text=True)) == served
    finally:
        with restarted.app_context():
            db.engine.dispose()


def test_switching_a_module_whose_entry_is_hidden_changes_nothing_in_a_long_section(panel, app, tmp_path,
                                                                                   monkeypatch):
    """In a section showing two of its three entries, switching a module whose entry is hidden
    neither brings an entry into view nor changes the count."""
    from panel.ui import sidebar

    monkeypatch.setattr(sidebar, "SHOWN_PER_SECTION", 2)
    install_sample(app, "alpha", make_menu_module(tmp_path / "src" / "alpha", "alpha", "Alpha"))
    assert htmx_post(panel, "/modules/alpha/enable").status_code == 200  # tools: Alpha, Hello, (Notes)
    page = panel.get("/").get_data(as_text=True)
    assert [slug for slug, _ in entries(page)["tools"]] == ["alpha", "hello"]
    assert re.search(r'sidebar-more-count-tools">1<', page)
    post_display(panel, show_in_sidebar=["0"])  # hello hidden: tools shows Alpha, Notes
    for action in ("disable", "enable"):
        answer = htmx_post(panel, f"/modules/hello/{action}").get_data(as_text=True)
        assert "sidebar-more" not in answer and 'hx-swap-oob="before' not in answer, answer
    assert [slug for slug, _ in entries(panel.get("/").get_data(as_text=True))["tools"]] == ["alpha", "notes"]
    answer = htmx_post(panel, "/modules/alpha/disable").get_data(as_text=True)  # in view: nothing comes in
    assert 'id="sidebar-module-alpha" hx-swap-oob="delete"' in answer and "sidebar-more" not in answer


def test_a_toggle_after_a_change_of_display_options_puts_its_entry_where_a_fresh_page_has_it(panel, app, tmp_path):
    """The sidebar a toggle starts from is the one kept with the current display options: one kept
    before they changed would place the entry by the old order."""
    install_sample(app, "alpha", make_menu_module(tmp_path / "src" / "alpha", "alpha", "Alpha"))
    for action in ("enable", "disable"):
        assert htmx_post(panel, f"/modules/alpha/{action}").status_code == 200  # a sidebar kept before the move
    post_display(panel, slug="notes", position="1")  # notes first in tools
    answer = htmx_post(panel, "/modules/alpha/enable").get_data(as_text=True)
    shown = [slug for slug, _ in entries(panel.get("/").get_data(as_text=True))["tools"]]
    following = shown[shown.index("alpha") + 1] if shown.index("alpha") + 1 < len(shown) else None
    target = f"beforebegin:#sidebar-module-{following}" if following else "beforeend:#sidebar-entries-tools"
    assert f'hx-swap-oob="{target}"' in answer, (shown, answer[:2000])


def another_worker(app):
    """A second app object on the same database and folders: another worker process."""
    other = create_app({"TESTING": True, "INSTANCE_PATH": app.instance_path, "SECRET_KEY": "test-secret"})
    client = other.test_client()
    client.csrf = sign_in(client, password=PASSWORD)
    return client


def fresh_sidebar(app) -> dict:
    return entries(another_worker(app).get("/").get_data(as_text=True))


@pytest.fixture
def two_workers(panel, app, tmp_path, monkeypatch):
    """Worker A (`panel`) and worker B, which has drawn its sidebar; more modules in several sections;
    `reads` counts B's (and any worker's) readings of every entry."""
    from panel.services import sidebar

    monkeypatch.setattr(sidebar, "SMALL_SIDEBAR", 0)  # these few entries would be read whole on a page
    for slug, section in (("alpha", "tools"), ("beta", "payments"), ("gamma", "tools"), ("delta", "modules")):
        install_sample(app, slug, make_menu_module(tmp_path / "more" / slug, slug, slug.title(), section))
    worker_b = another_worker(app)
    worker_b.get("/")
    reads = []
    read_every_entry = sidebar._build
    monkeypatch.setattr(sidebar, "_build", lambda edit: reads.append(edit) or read_every_entry(edit))
    return panel, worker_b, reads


def test_a_worker_catches_up_on_other_workers_switches_without_reading_every_entry(app, two_workers):
    """Behind gunicorn each click lands on any worker: one that kept the sidebar before other workers
    switched modules applies those switches (read from their audit entries) to it, a few rows, where
    reading every entry took a toggle 53 ms at 5,000 enabled modules (bench/toggle_workers.py)."""
    worker_a, worker_b, reads = two_workers
    for slug, action in (("gamma", "enable"), ("beta", "enable"), ("hello", "disable"), ("delta", "enable"),
                         ("beta", "disable")):
        assert htmx_post(worker_a, f"/modules/{slug}/{action}").status_code == 200
    reads.clear()
    page = worker_b.get("/").get_data(as_text=True)  # five generations behind
    answer = htmx_post(worker_b, "/modules/alpha/enable").get_data(as_text=True)  # a toggle, one behind
    assert reads == []
    assert 'id="sidebar-module-alpha"' in answer
    served = entries(worker_b.get("/").get_data(as_text=True))
    assert served == fresh_sidebar(app) and entries(page) != served
    assert [slug for slug, _ in served["tools"]] == ["alpha", "gamma", "notes"]
    assert "payments" not in served  # emptied, then left out


def test_anything_but_switches_since_makes_a_worker_read_every_entry(app, two_workers, tmp_path):
    """An install moves the counter without a switch's audit entry, and so do switches raced on
    PostgreSQL (two entries naming one generation): the worker reads every entry, and is right."""
    worker_a, worker_b, reads = two_workers
    htmx_post(worker_a, "/modules/gamma/enable")
    install_sample(app, "epsilon", make_menu_module(tmp_path / "more" / "epsilon", "epsilon", "Epsilon"))
    htmx_post(worker_a, "/modules/epsilon/enable")
    reads.clear()
    served = entries(worker_b.get("/").get_data(as_text=True))
    assert reads == [False]
    assert served == fresh_sidebar(app)

    htmx_post(worker_a, "/modules/alpha/enable")
    with app.app_context():  # as two raced switches leave them: one generation named twice, one by none
        last = db.session.scalars(db.select(AuditEvent).where(AuditEvent.slug == "alpha")
                                  .order_by(AuditEvent.id.desc())).first()
        last.generation -= 1
        db.session.commit()
    reads.clear()
    served = entries(worker_b.get("/").get_data(as_text=True))
    assert reads == [False]
    assert served == fresh_sidebar(app)


def test_a_module_renamed_while_off_is_caught_up_under_its_new_name_once(app, two_workers):
    """Its entry, kept under the old name, is found by its slug and replaced, not shown twice."""
    import json
    from pathlib import Path

    worker_a, worker_b, reads = two_workers
    manifest = Path(app.config["MODULES_PATH"]) / "notes" / "module.json"
    htmx_post(worker_a, "/modules/notes/disable")
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "name": "Aardvark notes",
                                    "menu": {"label": "Aardvark notes", "icon": "journal-text",
                                             "section": "tools"}}))
    htmx_post(worker_a, "/modules/notes/enable")
    reads.clear()
    served = entries(worker_b.get("/").get_data(as_text=True))
    assert reads == []
    assert served == fresh_sidebar(app)
    assert [label for slug, label in served["tools"] if slug == "notes"] == ["Aardvark notes"]


def test_a_toggle_on_a_worker_behind_changes_the_sidebar_as_the_page_shows_it(app, two_workers, monkeypatch):
    """The page was drawn by worker A; the toggle lands on worker B, which kept the sidebar before A's
    last switch. Switching off an entry of a section showing two of its entries brings the next one
    into view and lowers the count, as on A."""
    from panel.ui import sidebar as shown

    monkeypatch.setattr(shown, "SHOWN_PER_SECTION", 2)
    worker_a, worker_b, reads = two_workers
    htmx_post(worker_a, "/modules/alpha/enable")
    worker_b.get("/")  # B keeps tools: Alpha, Hello (1 more)
    htmx_post(worker_a, "/modules/gamma/enable")
    page = worker_a.get("/").get_data(as_text=True)
    assert [slug for slug, _ in entries(page)["tools"]] == ["alpha", "gamma"]
    assert re.search(r'sidebar-more-count-tools">2<', page)

    reads.clear()
    answer = htmx_post(worker_b, "/modules/alpha/disable").get_data(as_text=True)
    assert reads == []
    assert 'id="sidebar-module-alpha" hx-swap-oob="delete"' in answer
    assert re.search(r'hx-swap-oob="beforebegin:#sidebar-more-tools"><li[^>]*id="sidebar-module-hello"', answer), answer
    assert re.search(r'id="sidebar-more-count-tools"[^>]*>1<', answer), answer
    served = entries(worker_b.get("/").get_data(as_text=True))
    assert [slug for slug, _ in served["tools"]] == ["gamma", "hello"]
    assert served == fresh_sidebar(app)
