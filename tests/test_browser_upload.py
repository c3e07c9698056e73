"""In Chromium: upload hello, read the report, install, enable; upload a newer hello, compare, replace, roll back."""

from installer_kit import package

from conftest import browser_sign_in, create_admin


def upload(page, path):
    page.click("#upload-module-button")
    page.set_input_files("#upload-package", str(path))
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("#upload-report")


def test_upload_install_update_and_roll_back(app, live_server, page, tmp_path):
    create_admin(app)
    v12 = package(tmp_path, name="hello-1.2.0.zip")
    v13 = package(tmp_path, name="hello-1.3.0.zip", version="1.3.0")
    browser_sign_in(page, live_server.url)
    page.goto(f"{live_server.url}/modules")

    upload(page, v12)
    assert page.get_attribute("body", "data-upload-progress") == "100"  # the progress bar followed the upload
    assert page.inner_text(".report-name").startswith("Hello")
    assert page.inner_text(".report-slug") == "hello"
    assert "Unsigned" in page.inner_text(".report-signature")
    assert page.locator(".report-comparison").count() == 0
    page.click(".upload-confirm button[type=submit]")
    page.wait_for_selector("#module-hello[data-state=disabled]")

    page.click("#module-hello .module-toggle")
    page.wait_for_selector("#module-hello[data-state=enabled]")

    upload(page, v13)
    assert page.get_attribute("#upload-report", "data-comparison") == "update"
    assert page.locator(".report-comparison .current-value").first.inner_text() == "1.2.0"
    assert page.locator(".report-comparison .uploaded-value").first.inner_text() == "1.3.0"
    page.click("text=Replace current with uploaded")
    page.wait_for_selector("#module-hello[data-state=enabled] .rollback-button")
    assert "v1.3.0" in page.inner_text("#module-hello .module-version")
    assert "Roll back to 1.2.0" in page.inner_text("#module-hello .rollback-button")

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#module-hello .rollback-button")
    page.wait_for_selector("#module-hello .module-version:text-is('v1.2.0')")
    assert page.get_attribute("#module-hello", "data-state") == "enabled"
    response = page.goto(f"{live_server.url}/m/hello/")
    assert response.status == 200
