"""In Chromium: /modules a page at a time — the page links keep the search and the state filter, Back
returns to the previous page — and a toggle on any page updates the sidebar entry by entry and the counts,
leaving the sidebar as a fresh page load draws it."""

import pytest

from conftest import browser_sign_in, create_admin, install_sample, make_menu_module
from panel.ui import cards

SIDEBAR = "() => [...document.querySelectorAll('#sidebar [data-section]')].map(s => s.dataset.section + ':' + " \
          "[...s.querySelectorAll('[data-module]')].map(e => e.dataset.module).join(','))"


def toggle(page, slug):
    """Click the module's switch and wait until its card shows the other state."""
    card = page.locator(f"#module-{slug}")
    after = "disabled" if card.get_attribute("data-state") == "enabled" else "enabled"
    with page.expect_response(lambda r: f"/modules/{slug}/" in r.url and r.status == 200):
        card.locator(".module-toggle").click()
    page.wait_for_selector(f"#module-{slug}[data-state={after}]")


def names_on_page(page):
    return page.eval_on_selector_all("#module-list [data-state] .card-title", "els => els.map(e => e.textContent.trim())")


@pytest.fixture
def five_modules(app, tmp_path, monkeypatch):
    """Five menu modules (two in "payments", three in "tools"), two cards a page."""
    create_admin(app)
    for slug, section in (("alpha", "tools"), ("bravo", "payments"), ("charlie", "tools"), ("delta", "payments"),
                          ("echo", "tools")):
        install_sample(app, slug, make_menu_module(tmp_path / "src" / slug, slug, slug.title(), section))
    monkeypatch.setattr(cards, "LIST_PAGE_SIZE", 2)


def test_pages_keep_the_search_and_back_returns(app, live_server, page, five_modules):
    browser_sign_in(page, live_server.url)
    page.goto(f"{live_server.url}/modules?state=disabled")
    assert names_on_page(page) == ["Alpha", "Bravo"]
    page.fill("#module-search", "a")  # alpha, bravo, charlie, delta: two pages
    page.wait_for_url("**q=a**")
    page.click(".module-pager a[rel=next]")
    page.wait_for_url("**page=2**")
    assert "q=a" in page.url and "state=disabled" in page.url
    assert names_on_page(page) == ["Charlie", "Delta"]
    assert page.input_value("#module-search") == "a"
    page.go_back()  # htmx puts the earlier page back from its history after the address changed: wait for it
    page.wait_for_function("() => document.querySelector('#module-list .card-title')?.textContent.trim() === 'Alpha'")
    assert "page=2" not in page.url and names_on_page(page) == ["Alpha", "Bravo"]
    page.goto(f"{live_server.url}/modules?q=a&state=disabled&page=2")  # a shared link
    assert names_on_page(page) == ["Charlie", "Delta"]


def test_toggles_on_any_page_keep_the_sidebar_and_counts_right(app, live_server, page, five_modules):
    browser_sign_in(page, live_server.url)
    for slug, page_number in (("delta", 2), ("alpha", 1), ("echo", 3), ("bravo", 1), ("charlie", 2), ("delta", 2)):
        page.goto(f"{live_server.url}/modules?page={page_number}")
        toggle(page, slug)
        live = page.evaluate(SIDEBAR)
        enabled_count = page.inner_text("#module-counts [data-count=enabled] .badge")
        page.reload()
        assert page.evaluate(SIDEBAR) == live, slug
        assert page.inner_text("#module-counts [data-count=enabled] .badge") == enabled_count
    assert page.evaluate(SIDEBAR) == ["payments:bravo", "tools:alpha,charlie,echo"]


SHOWN = "() => [...document.querySelectorAll('#sidebar [data-section]')].map(s => s.dataset.section + ':' + " \
        "[...s.querySelectorAll('[data-module]')].map(e => e.dataset.module).join(',') + " \
        "(s.querySelector('.sidebar-more') ? '+' + s.querySelector('.sidebar-more').textContent.trim() : ''))"


def test_a_section_shows_its_first_entries_and_counts_the_rest_through_any_toggles(app, live_server, page, tmp_path,
                                                                                   monkeypatch):
    """A section with more entries than it shows (two here) lists the first ones and "N more"; each
    toggle, in view or out of it, leaves the sidebar as a fresh page load draws it."""
    from panel.ui import sidebar

    create_admin(app)
    for slug in ("alpha", "bravo", "charlie", "delta", "echo"):
        install_sample(app, slug, make_menu_module(tmp_path / "src" / slug, slug, slug.title(), "tools"))
    monkeypatch.setattr(cards, "LIST_PAGE_SIZE", 5)
    monkeypatch.setattr(sidebar, "SHOWN_PER_SECTION", 2)
    browser_sign_in(page, live_server.url)
    page.goto(f"{live_server.url}/modules")
    steps = [("charlie", "tools:charlie"), ("echo", "tools:charlie,echo"), ("alpha", "tools:alpha,charlie+1 more"),
             ("delta", "tools:alpha,charlie+2 more"), ("alpha", "tools:charlie,delta+1 more"),
             ("bravo", "tools:bravo,charlie+2 more"), ("echo", "tools:bravo,charlie+1 more"),
             ("delta", "tools:bravo,charlie"), ("bravo", "tools:charlie")]
    for slug, expected in steps:
        toggle(page, slug)
        assert page.evaluate(SHOWN) == [expected], slug
        page.reload()
        assert page.evaluate(SHOWN) == [expected], f"{slug} after a reload"
    assert page.locator("#sidebar .sidebar-more").count() == 0
