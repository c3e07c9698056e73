"""In Chromium: enter the demo license, start the trial of a paid module from the marketplace,
install it and see "14 days left" on its card, activate a demo coupon, see the module owned."""

from playwright.sync_api import expect

from conftest import browser_sign_in, create_admin
from panel.hub.licenses import DEMO_COUPONS, DEMO_LICENSE_KEY


def test_license_trial_and_coupon(app, live_server, hub_server, page):
    create_admin(app)
    browser_sign_in(page, live_server.url)
    base = live_server.url

    page.click("#sidebar a[href='/license']")
    page.wait_for_url(f"{base}/license")
    page.fill("#license-key", DEMO_LICENSE_KEY)
    page.click(".license-key-form button[type=submit]")
    expect(page.locator(".license-owner")).to_have_text("Demo")

    page.goto(f"{base}/marketplace?price=paid")
    card = page.locator("#mp-invoices_pro")
    card.wait_for()
    expect(card.locator(".mp-buy")).to_be_visible()
    card.locator(".mp-try").click()  # "Try free for 14 days"
    page.wait_for_url(f"{base}/marketplace/invoices_pro")
    expect(page.locator(".mp-license-trial")).to_have_text("Trial: 14 days left")

    page.click(".mp-detail-head .mp-action[data-action=install]")
    page.wait_for_selector(".job-progress[data-job-state=done]", timeout=20_000)
    page.goto(f"{base}/modules")
    expect(page.locator("#module-invoices_pro .module-trial")).to_have_text("Trial: 14 days left")

    page.goto(f"{base}/license")
    page.fill("#coupon-code", DEMO_COUPONS[0])
    page.click(".license-coupon-form button[type=submit]")
    expect(page.locator(".toast-message, .alert-success").first).to_contain_text("it added Invoices Pro")
    expect(page.locator(".license-owned tr[data-module=invoices_pro]")).to_contain_text("for ever")

    page.goto(f"{base}/modules")
    expect(page.locator("#module-invoices_pro .module-owned")).to_have_text("Owned")
    page.click("#module-invoices_pro .module-toggle")
    expect(page.locator("#module-invoices_pro")).to_have_attribute("data-state", "enabled")
