"""In Chromium: sign in, switch `hello` on and off, and watch the sidebar and its page follow."""

from conftest import browser_sign_in, create_admin, install_sample


def test_toggle_updates_sidebar_without_page_load(app, live_server, page):
    create_admin(app)
    install_sample(app, "hello")
    browser_sign_in(page, live_server.url)
    page.goto(f"{live_server.url}/modules")
    page.evaluate("window.__sameDocument = true")
    sidebar_entry = page.locator("#sidebar [data-module=hello]")
    assert sidebar_entry.count() == 0

    page.click("#module-hello .module-toggle")
    page.wait_for_selector("#module-hello[data-state=enabled]")
    sidebar_entry.wait_for()
    assert page.evaluate("window.__sameDocument") is True  # no page load happened

    page.click("#sidebar [data-module=hello] a")
    page.wait_for_selector(".hello-greeting")
    assert "Hello, admin!" in page.inner_text(".hello-greeting")

    page.goto(f"{live_server.url}/modules")
    page.evaluate("window.__sameDocument = true")
    page.click("#module-hello .module-toggle")
    page.wait_for_selector("#module-hello[data-state=disabled]")
    sidebar_entry.wait_for(state="detached")
    assert page.evaluate("window.__sameDocument") is True
    response = page.goto(f"{live_server.url}/m/hello/")
    assert response.status == 404
