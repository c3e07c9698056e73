"""In Chromium: browse the marketplace, search, filter paid, open a module card and its version history,
then read "See changes" of an installed module, then install one with live progress."""

from playwright.sync_api import expect

from conftest import browser_sign_in, create_admin, install_sample


def test_browse_search_filter_tabs_changes_and_install(app, live_server, hub_server, page):
    create_admin(app)
    install_sample(app, "hello")  # 1.2.0 installed; the store also has 2.0.0, which needs panel 2
    browser_sign_in(page, live_server.url)
    base = live_server.url

    page.goto(f"{base}/marketplace")  # first visit: the catalog arrives in the background, the list reloads
    page.wait_for_selector("#mp-hello")
    page.evaluate("window.__sameDocument = true")
    cards = page.locator("#mp-results .mp-card-col")
    assert cards.count() >= 5

    page.fill("#mp-search", "invoice")  # active search
    expect(cards).to_have_count(1)
    assert page.locator("#mp-invoices_pro").count() == 1
    assert "q=invoice" in page.url

    page.fill("#mp-search", "")
    page.wait_for_selector("#mp-hello")
    page.select_option("#mp-price", "paid")
    expect(cards).to_have_count(1)
    assert page.locator("#mp-invoices_pro .mp-price-paid").count() == 1
    page.select_option("#mp-price", "")
    page.wait_for_selector("#mp-hello")
    assert page.evaluate("window.__sameDocument") is True  # all of it without a page load

    page.click("#mp-hello .mp-name")
    page.wait_for_url(f"{base}/marketplace/hello")
    page.wait_for_selector("#mp-tabs .mp-description")  # the tab loads from the store as a fragment
    page.click("#mp-tab-link-versions")
    page.wait_for_url(f"{base}/marketplace/hello?tab=versions")
    incompatible = page.locator(".mp-release[data-version='2.0.0'] .mp-incompatible")
    incompatible.wait_for()
    assert "Incompatible" in incompatible.inner_text()
    assert page.locator(".mp-release[data-version='1.2.0'] .mp-compatible").count() == 1
    page.reload()  # the tab deep-links
    page.wait_for_selector(".mp-release[data-version='2.0.0'] .mp-incompatible")

    page.goto(f"{base}/modules")
    page.click("#module-hello .mp-see-changes")
    modal = page.locator("#mp-changes.show")
    modal.wait_for()
    versions = modal.locator(".mp-release")
    assert [versions.nth(i).get_attribute("data-version") for i in range(versions.count())] == ["2.0.0"]
    assert "Rewritten for panel core 2" in modal.inner_text()
    modal.locator(".modal-footer button").click()
    page.wait_for_selector("#mp-changes", state="detached")

    page.goto(f"{base}/marketplace?q=notes")
    page.wait_for_selector("#mp-notes")
    page.click("#mp-notes .mp-action[data-action=install]")
    page.wait_for_selector("#mp-notes .job-progress[data-job-state=done]", timeout=20_000)
    assert "installed" in page.inner_text("#mp-notes .job-done")
