"""The module card: whatever it shows comes from its view model (`ui.cards.Card`), and the HTML
served follows every change of it at once, though cards are rendered once and reused."""

import inspect
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jinja2 import meta
from sqlalchemy import text
from sqlalchemy.orm.attributes import flag_modified

from conftest import ON_POSTGRES, install_sample, shown_counts
from license_kit import pin_key, store_token, trial
from panel.extensions import db
from panel.marketplace import catalog
from panel.models import CatalogCache, Module
from panel.manifest import SLUG_RE
from panel.ui import card_shapes, cards
from panel.ui.fragments import compact, request_key

# What a card template may read besides `card`: Flask's and Flask-Babel's own, and the CSRF token.
CARD_TEMPLATE_NAMES = {"card", "csrf_token", "url_for", "_"}
CSRF_TOKEN = re.compile(r'(name="csrf_token" value="|"X-CSRFToken": ")[^"]+')
CARD_TEMPLATES = ("modules/_card.html", "modules/_card_actions_display.html",
                  "modules/_card_actions_marketplace.html", "modules/_card_actions_install.html",
                  "license/_card_badge.html")


def publish(app, *versions: str, paid: bool = False) -> None:
    """The cached catalog offers `hello` in these versions, all for this panel."""
    entry = catalog.validate_entry({"slug": "hello", "name": "Hello", "version": versions[-1], "paid": paid,
                                    "versions": [{"version": v, "requires_core": ">=1.0"} for v in versions]})
    with app.app_context():
        db.session.execute(CatalogCache.__table__.delete())
        db.session.commit()
        catalog.save_catalog([entry], etag="-".join(versions))


def change_module(app, **columns):
    with app.app_context():
        module = db.session.get(Module, "hello")
        for column, value in columns.items():
            setattr(module, column, value)
        db.session.commit()


def change_icon(app):
    with app.app_context():
        module = db.session.get(Module, "hello")
        module.manifest = {**module.manifest, "menu": {**module.manifest["menu"], "icon": "star"}}
        flag_modified(module, "manifest")
        db.session.commit()


def on_trial(app):
    publish(app, "1.2.0", "1.3.0", paid=True)
    store_token(app, pin_key(app), {"hello": trial(14)})


def change_policy(app, **changes):
    from panel.marketplace import updates

    with app.app_context():
        updates.set_policy("hello", "test", **changes)


def change_slug(app):
    with app.app_context():
        db.session.execute(text("UPDATE modules SET slug = 'hello_two' WHERE slug = 'hello'"))
        db.session.commit()


# For each field of the card: a change behind the panel's back (in the database or the cached
# catalog), and the markup that shows it (True: appears, False: disappears).
CHANGES = {
    "slug": (change_slug, 'id="module-hello_two"', True),
    "name": (lambda app: change_module(app, name="Howdy"), ">Howdy", True),
    "version": (lambda app: change_module(app, version="1.2.5"), "v1.2.5", True),
    "category": (lambda app: change_module(app, category="Greetings"), "Greetings", True),
    "author": (lambda app: change_module(app, author="Someone Else"), "Someone Else", True),
    "description": (lambda app: change_module(app, description="Says hi, briefly."), "Says hi, briefly.", True),
    "docs_url": (lambda app: change_module(app, docs_url="https://example.org/elsewhere"),
                 "https://example.org/elsewhere", True),
    "state": (lambda app: change_module(app, state="enabled"), 'data-state="enabled"', True),
    "error": (lambda app: change_module(app, error="It broke on Tuesday"), "It broke on Tuesday", True),
    "icon": (change_icon, "bi-star", True),
    "previous_version": (lambda app: change_module(app, previous_version="1.0.0"), "Roll back to 1.0.0", True),
    "rollback_is_older": (lambda app: change_module(app, version="1.0.5"), "Return to 1.1.0", True),
    "update": (lambda app: publish(app, "1.2.0", "1.3.0", "1.4.0"), "Update to 1.4.0", True),
    "newer": (lambda app: publish(app, "1.2.0"), "mp-see-changes", False),
    "license_kind": (lambda app: publish(app, "1.2.0", "1.3.0", paid=True), 'data-license="none"', True),
    "license_text": (on_trial, "Trial: 14 days left", True),
    "pinned": (lambda app: change_policy(app, pinned=True), "Held at 1.2.0", True),
    "skipped_version": (lambda app: change_policy(app, skipped_version="1.3.0"), "Skipping 1.3.0", True),
    "auto_update": (lambda app: change_policy(app, auto_update=True), "Updates automatically", True),
}


@pytest.mark.parametrize("changes", [{"pinned": True}, {"skipped_version": "1.3.0"}])
def test_a_held_module_or_a_skipped_version_offers_no_update_on_its_card(app, admin_client, hello, changes):
    assert "Update to 1.3.0" in modules_page(admin_client)
    change_policy(app, **changes)
    assert "Update to 1.3.0" not in modules_page(admin_client)
    publish(app, "1.2.0", "1.3.0", "1.4.0")  # a newer version than the skipped one is offered again
    assert ("Update to 1.4.0" in modules_page(admin_client)) == ("skipped_version" in changes)


def modules_page(client) -> str:
    """The list of modules, without its CSRF tokens (signed with the time, they change every second)."""
    return CSRF_TOKEN.sub(r"\1", client.get("/modules").get_data(as_text=True))


@pytest.fixture
def hello(app):
    """`hello` 1.2.0 installed, kept 1.1.0 to roll back to, and 1.3.0 in the marketplace."""
    install_sample(app, "hello")
    change_module(app, previous_version="1.1.0")
    publish(app, "1.2.0", "1.3.0")


def test_every_field_of_the_card_is_covered():
    assert set(CHANGES) == set(cards.Card._fields)


@pytest.mark.parametrize("field", sorted(CHANGES))
def test_a_change_of_any_field_the_card_shows_is_served_at_once(app, admin_client, hello, field):
    change, markup, appears = CHANGES[field]
    before = modules_page(admin_client)
    assert modules_page(admin_client) == before  # now served from the cache
    change(app)
    after = modules_page(admin_client)
    assert after != before
    assert (markup in after, markup in before) == (appears, not appears)


def test_a_toggle_answers_with_the_same_card_as_the_list(app, admin_client, hello):
    from conftest import htmx_post

    toggled = CSRF_TOKEN.sub(r"\1", htmx_post(admin_client, "/modules/hello/enable").get_data(as_text=True))
    listed = modules_page(admin_client)  # without the tokens: signed with the time, they differ a second later
    card = toggled[:toggled.index('<li id="sidebar-module-hello" hx-swap-oob="delete">')]
    assert 'id="module-hello" data-state="enabled"' in card and "Update to 1.3.0" in card
    assert card.strip() in listed


def test_the_card_cache_is_keyed_by_the_card_itself(app, hello):
    with app.test_request_context("/modules"):
        module = db.session.get(Module, "hello")
        card = cards.card_of(module)
        cards.card_html(module)
        assert cards._cards.lookup((card, request_key())) is not None
        for field in cards.Card._fields:
            other = card._replace(**{field: "changed"})
            assert cards._cards.lookup((other, request_key())) is None


def test_a_row_of_card_columns_is_read_by_name():
    """`card_of_row` unpacks a row in the order of `_card`'s arguments: each column must be the one named."""
    arguments = list(inspect.signature(cards._card).parameters)
    assert [column.key for column in cards.CARD_COLUMNS] == arguments[:len(cards.CARD_COLUMNS)]
    # …then what the page's joins add, unpacked by `card_of_row` in this order.
    assert [column.key for column in cards.PAGE_COLUMNS[len(cards.CARD_COLUMNS):]] == [
        "compatible", "newest", "pinned", "skipped_version", "auto_update"]


def test_the_card_templates_read_only_the_card(app):
    env = app.jinja_env
    for name in CARD_TEMPLATES:
        source = env.loader.get_source(env, name)[0]
        assert meta.find_undeclared_variables(env.parse(source)) <= CARD_TEMPLATE_NAMES, name


# Text as a module or a store may send it: markup, quotes, ampersands, percent signs, line breaks.
ANY_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
OPTIONAL_TEXT = st.one_of(st.none(), ANY_TEXT)
ANY_CARD = st.builds(
    cards.Card, slug=st.from_regex(SLUG_RE, fullmatch=True), name=ANY_TEXT, version=ANY_TEXT, category=ANY_TEXT,
    author=ANY_TEXT, description=ANY_TEXT, docs_url=ANY_TEXT, state=st.sampled_from(("enabled", "disabled", "failed")),
    error=OPTIONAL_TEXT, icon=ANY_TEXT.filter(bool), previous_version=OPTIONAL_TEXT, rollback_is_older=st.booleans(),
    update=OPTIONAL_TEXT, newer=st.booleans(), license_kind=st.sampled_from((None, "owned", "trial", "ended", "none")),
    license_text=ANY_TEXT, pinned=st.booleans(), skipped_version=OPTIONAL_TEXT, auto_update=st.booleans())


def same_words(html: str) -> str:
    """HTML as a browser reads it: a run of white space is one space (fragments hold no <pre>)."""
    return re.sub(r"\s+", " ", html)


def test_a_card_filled_into_its_shape_is_the_card_its_template_renders(app):
    """Cards are rendered once per shape, their text put in afterwards (ui.card_shapes): for any text,
    in every language, that must be exactly what rendering the card template for the card gives."""

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(card=ANY_CARD, language=st.sampled_from(("en", "fr", "ru")))
    def check(card, language):
        with app.test_request_context("/modules", headers={"Accept-Language": language}):
            filled = card_shapes.card_html(card, request_key(), cards._render)
            assert same_words(filled) == same_words(compact(cards._render(card)))

    check()


def test_card_shapes_are_shared_by_cards_that_differ_only_in_text(app, hello):
    with app.test_request_context("/modules"):
        card = cards.card_of(db.session.get(Module, "hello"))
        other = card._replace(slug="another", name="Another <b>one</b>", description="Fish & chips")
        assert card_shapes.shape_of(card) == card_shapes.shape_of(other)
        assert card_shapes.shape_of(card) != card_shapes.shape_of(other._replace(state="enabled"))
        html = card_shapes.card_html(other, request_key(), cards._render)
        assert 'id="module-another"' in html and "Another &lt;b&gt;one&lt;/b&gt;" in html and "Fish &amp; chips" in html
        assert 'module-hello"' not in html and "/modules/hello/" not in html


def test_each_page_shows_its_own_modules_with_their_catalog_verdict_policy_and_counts(app, admin_client, monkeypatch):
    """Rows, catalog versions and policies come from one joined query per page: each card must get its own."""
    from panel.models import UpdatePolicy

    with app.app_context():
        db.session.execute(Module.__table__.insert(), [
            {"slug": f"mod_{i}", "name": f"Module {i}", "version": "1.0.0", "description": "", "author": "",
             "category": "", "docs_url": "", "manifest": {}, "source": "folder", "show_in_sidebar": False,
             "state": "failed" if i == 6 else "disabled", "error": "Broken" if i == 6 else None} for i in range(7)])
        db.session.add(UpdatePolicy(slug="mod_3", pinned=True, skipped_version=None, auto_update=False))
        db.session.commit()
        catalog.save_catalog([catalog.validate_entry({"slug": f"mod_{i}", "name": f"Module {i}", "version": "1.1.0",
                                                      "versions": [{"version": "1.1.0", "requires_core": ">=1.0"}]})
                              for i in (3, 4)], etag="page-test")
    monkeypatch.setattr(cards, "LIST_PAGE_SIZE", 3)
    pages = [admin_client.get(f"/modules?page={n}").get_data(as_text=True) for n in (1, 2, 3)]
    shown = [re.findall(r'id="module-(mod_\d)"', html) for html in pages]
    assert shown == [["mod_0", "mod_1", "mod_2"], ["mod_3", "mod_4", "mod_5"], ["mod_6"]]
    assert "Held at 1.0.0" in pages[1] and pages[1].count("Update to 1.1.0") == 1  # mod_3 held, mod_4 offered
    assert "mp-update" not in pages[0] + pages[2] and "It broke" not in pages[2] and "Broken" in pages[2]
    counts = dict(re.findall(r'data-count="(\w+)">\w+ <span class="badge text-bg-light">(\d+)', pages[0]))
    assert counts == {"enabled": "0", "disabled": "6", "failed": "1"}
    assert "Page 3 of 3" in pages[2]
    failed = admin_client.get("/modules?state=failed&page=2").get_data(as_text=True)  # past the end: the last page
    assert re.findall(r'id="module-(mod_\d)"', failed) == ["mod_6"]


def test_a_card_whose_slug_breaks_the_slug_rule_is_rendered_directly(app, hello):
    """URLs quote a slug and HTML escapes it: the two differ outside the slug rule, so no shape is used."""
    with app.test_request_context("/modules"):
        card = cards.card_of(db.session.get(Module, "hello"))._replace(slug="odd slug/<x>")
        html = card_shapes.card_html(card, request_key(), cards._render)
        assert html == compact(cards._render(card))
        assert "/modules/odd%20slug/%3Cx%3E/enable" in html and 'id="module-odd slug/&lt;x&gt;"' in html


def test_the_counts_put_into_their_shape_read_as_the_template_renders_them(app):
    from flask import render_template

    from panel.ui.cards import counts_html
    from panel.ui.fragments import compact

    for counts in ({"enabled": 0, "disabled": 3, "failed": 1}, {"enabled": 12345, "disabled": 0, "failed": 7}):
        for oob in (False, True):
            with app.test_request_context("/modules", headers={"Accept-Language": "ru"}):
                expected = compact(render_template("modules/_counts.html", counts=counts, oob=oob))
                assert counts_html(oob, {**counts, "installed": sum(counts.values())}) == expected
                assert "Включён" in expected and str(counts["enabled"]) in expected


def test_the_counts_a_run_of_toggles_answers_with_are_the_counted_ones(app, admin_client, monkeypatch):
    """After the first toggle a worker derives the counts from the ones it kept and the one switch it
    committed, counting nothing, and its answer runs no statement after the commit (the card's catalog
    and policy were read with the lock); after other workers' switches it catches up on them (their
    audit entries name the state each found), still counting nothing; after an install in between it
    counts again. Each answer shows what counting the rows would show, failed enables included."""
    from conftest import htmx_post
    from panel.runtime import plain_rows
    from panel.services import modules

    for slug in ("hello", "notes", "broken"):
        install_sample(app, slug)
    counted = []
    real_rows = plain_rows.rows
    monkeypatch.setattr(plain_rows, "rows", lambda statement, *args: (
        (statement is cards._SIDE or statement is cards._SIDE_COUNTED) and counted.append(statement is cards._SIDE_COUNTED))
        or real_rows(statement, *args))
    # (slug, action, whether the answer counts, None: either): the first toggle counts, and so does the
    # first one after an install; the others read nothing for their card.
    steps = [("hello", "enable", True), ("notes", "enable", False), ("broken", "enable", None),
             ("hello", "disable", False), ("elsewhere", "notes", None), ("hello", "enable", False),
             ("elsewhere", "broken", None), ("elsewhere", "hello", None), ("notes", "enable", False),
             ("hello", "enable", False), ("installed", "notes_export", None), ("hello", "disable", True),
             ("broken", "enable", False)]
    for slug, action, counts in steps:
        if slug == "elsewhere":  # another worker's switch: this worker's kept counts are behind
            with app.app_context():
                switch = modules.enable if modules.read(action).state != "enabled" else modules.disable
                switch(action, "other")
            continue
        if slug == "installed":  # not a switch: the counts cannot be caught up past it
            install_sample(app, action)
            continue
        counted.clear()
        html = htmx_post(admin_client, f"/modules/{slug}/{action}").get_data(as_text=True)
        shown = shown_counts(html)
        with app.app_context():
            expected = modules.counts()
        assert shown == {key: expected[key] for key in ("enabled", "disabled", "failed")}, (slug, action)
        assert counts is None or counted == ([True] if counts else []), (slug, action)


@pytest.mark.skipif(ON_POSTGRES, reason="the race is SQLite's: on PostgreSQL a toggle's read locks its module's row "
                    "until the commit, so no other worker's switch can come between (here it would wait forever)")
def test_a_toggle_another_worker_raced_answers_with_the_counts_as_they_are(app, admin_client, monkeypatch):
    """On SQLite a toggle's read of its module takes no lock: another worker can switch the module
    between that read and this toggle's write. The counts this worker derives then start from the
    state its audit entry found under the write lock, not from the one it read."""
    from conftest import htmx_post, sign_in
    from panel import create_app
    from panel.services import modules

    for slug in ("hello", "notes"):
        install_sample(app, slug)
    htmx_post(admin_client, "/modules/notes/enable")  # this worker keeps the counts
    other = create_app({"TESTING": True, "INSTANCE_PATH": app.instance_path, "SECRET_KEY": "test-secret"})
    sign_in(other.test_client())
    real_require_run = modules.licenses.require_run

    def raced(slug):  # after this toggle read "disabled", the other worker enables the module
        monkeypatch.setattr(modules.licenses, "require_run", real_require_run)
        with other.app_context():
            modules.enable(slug, "other")
        real_require_run(slug)

    monkeypatch.setattr(modules.licenses, "require_run", raced)
    html = htmx_post(admin_client, "/modules/hello/enable").get_data(as_text=True)
    shown = shown_counts(html)
    assert shown == {"enabled": 2, "disabled": 0, "failed": 0}
    html = htmx_post(admin_client, "/modules/notes/disable").get_data(as_text=True)
    shown = shown_counts(html)
    assert shown == {"enabled": 1, "disabled": 1, "failed": 0}


def test_a_sidebar_entry_filled_into_its_shape_is_the_entry_its_template_renders(app):
    """A toggle's sidebar entry goes through the entry template's shape (ui.sidebar.entry_html): for any
    label and icon, in every language, the same HTML as rendering the entry template for it."""
    from panel.ui import sidebar as sidebar_ui

    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(label=ANY_TEXT, icon=ANY_TEXT, language=st.sampled_from(("en", "fr", "ru")))
    def check(label, icon, language):
        entry = sidebar_ui.EntryFields("hello", label, icon, "/m/hello/")
        with app.test_request_context("/modules", headers={"Accept-Language": language}):
            filled = sidebar_ui.entry_html(entry)
            assert same_words(filled) == same_words(compact(sidebar_ui._render_entry(entry)))
            assert 'id="sidebar-module-hello"' in filled

    check()
