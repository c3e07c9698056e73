"""In Chromium: install "Notes export" from the marketplace through its plan (Notes first), follow one
progress view to done with both sidebar entries arriving without a page load; then Update all from
the dashboard and read the summary."""

from playwright.sync_api import expect

from conftest import browser_sign_in, create_admin
from panel.marketplace import catalog, plan_runs


def test_install_with_its_plan_then_update_all(app, live_server, hub_server, page):
    create_admin(app)
    with app.app_context():  # hello 1.0.0 from the store, so that Update all has something to do
        catalog.refresh()
        plan_runs.run(plan_runs.create(plan_runs.plan_install("hello", "1.0.0"), "test").id)
    browser_sign_in(page, live_server.url)
    base = live_server.url

    page.goto(f"{base}/marketplace?q=notes")
    page.wait_for_selector("#mp-notes_export")
    page.evaluate("window.__sameDocument = true")
    page.click("#mp-notes_export .mp-action[data-action=install]")
    dialog = page.locator("#mp-plan")
    expect(dialog).to_be_visible()
    steps = dialog.locator(".mp-plan-steps li")
    expect(steps).to_have_count(2)
    assert steps.nth(0).get_attribute("data-slug") == "notes"
    assert "Notes" in steps.nth(0).inner_text() and "Notes export" in steps.nth(1).inner_text()
    dialog.locator(".mp-plan-confirm").click()
    page.wait_for_selector("#mp-plan-progress .job-progress[data-job-state=done]", timeout=30_000)
    assert page.locator("#mp-plan-progress .job-progress").count() == 1  # one progress view for the plan
    sidebar = page.locator("nav#sidebar")
    expect(sidebar).to_contain_text("Notes export")
    expect(sidebar.locator("a", has_text="Notes").first).to_be_visible()
    assert page.evaluate("window.__sameDocument") is True  # no page load

    page.goto(f"{base}/modules")
    for slug in ("notes", "notes_export"):
        assert page.get_attribute(f"#module-{slug}", "data-state") == "enabled"

    page.goto(f"{base}/")
    widget = page.locator("#updates-widget")
    expect(widget).to_contain_text("2.0.0 needs panel >=2.0")
    widget.locator(".updates-all").click()
    summary = page.locator("#updates-widget .updates-summary")
    expect(summary).to_be_visible(timeout=30_000)
    assert summary.locator("li[data-slug=hello]").get_attribute("data-result") == "updated"
