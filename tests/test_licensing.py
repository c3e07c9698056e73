"""The panel side of licensing, against the hub on a real loopback port (real HTTP), with
time-machine for every date (the hub runs in a thread of this process, so it travels too)."""

import re
import shutil
import threading
from datetime import datetime, timedelta, timezone

import pytest
import requests
import time_machine
from sqlalchemy import select, text

from conftest import SOURCES, create_admin, htmx_post, make_app, sign_in
from panel.errors import Conflict
from panel.extensions import db
from panel.installer import install_package
from panel.hub.licenses import DEMO_COUPONS, DEMO_LICENSE_KEY
from panel.licensing import keys
from panel.marketplace import catalog
from panel.marketplace import jobs as install_jobs
from panel.marketplace import licenses as store_licenses
from panel.models import LicenseState, Module, ModuleSetting
from panel.services import license_expiry, licenses

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=timezone.utc)
PAID = "invoices_pro"


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(T0, tick=True) as traveller:
        license_expiry.forget()
        yield traveller
    license_expiry.forget()


@pytest.fixture
def panel(app, client, hub_server):
    """A signed-in panel (for longer than any trial: the tests travel weeks) with the hub's catalog fetched."""
    app.config["SESSION_HOURS"] = 24 * 60
    create_admin(app)
    client.csrf = sign_in(client)
    admin_client = client
    with app.app_context():
        assert catalog.refresh().status == "updated"
    return admin_client


def operator(hub_server, *args) -> str:
    result = hub_server.hub.test_cli_runner().invoke(args=["store", *args])
    assert result.exit_code == 0, result.output
    return result.output.strip()


def post(client, path, **data):
    return client.post(path, data={"csrf_token": client.csrf, **data})


def page(client, path="/license") -> str:
    return client.get(path).get_data(as_text=True)


def activate(client, key=DEMO_LICENSE_KEY):
    response = post(client, "/license", key=key)
    assert response.status_code == 303, response.get_data(as_text=True)
    return response


def install(app, version=None):
    """Install the paid module through the marketplace job (download with X-License-Token)."""
    with app.app_context():
        job = install_jobs.create_install(PAID, version, "test").job
        job = install_jobs.run_install(job.id)
        return job.state, job.message


def module_row(app, slug=PAID):
    with app.app_context():
        row = db.session.execute(select(Module.state, Module.error, Module.version).where(Module.slug == slug)).first()
        return row


def card(client, slug=PAID) -> str:
    html = page(client, "/modules")
    start = html.index(f'id="module-{slug}"')
    return html[start:html.index("</article>", start)]


def travel(clock, days):
    """To `days` after T0, and an hour: the trial started a few (ticking) seconds after T0."""
    clock.move_to(T0 + timedelta(days=days, hours=1))
    license_expiry.forget()


# --- the key -------------------------------------------------------------------------------------

def test_activating_the_demo_key_shows_owner_and_installation(app, panel):
    activate(panel, DEMO_LICENSE_KEY.lower().replace("-", " "))
    html = page(panel)
    with app.app_context():
        state = db.session.get(LicenseState, 1)
        installation, stored = state.installation_id, state.token
    assert "<title>License" in html and "Demo" in html and installation in html
    assert stored and state.license_key == DEMO_LICENSE_KEY
    assert "Check now" in html and 'name="code"' in html


def test_malformed_keys_and_coupons_are_refused_before_any_request(app, panel, hub_server):
    calls = []
    hub = hub_server.hub
    hub_server.override = lambda environ, start_response: (calls.append(environ["PATH_INFO"]),
                                                           hub(environ, start_response))[1]
    typo = DEMO_LICENSE_KEY[:-1] + ("7" if DEMO_LICENSE_KEY[-1] != "7" else "8")
    response = post(panel, "/license", key=typo)
    assert response.status_code == 400 and "has a typo" in response.get_data(as_text=True)
    assert typo in response.get_data(as_text=True)  # what was typed is kept in the field
    response = post(panel, "/license", key="PANEL-0000")
    assert response.status_code == 400 and "20 characters" in response.get_data(as_text=True)
    activate(panel)
    calls.clear()
    response = post(panel, "/license/coupon", code=DEMO_COUPONS[0][:-1] + "Q")
    assert response.status_code == 400 and "coupon code has a typo" in response.get_data(as_text=True)
    assert calls == []


def test_unknown_key_and_installation_limit_are_explained(app, panel, hub_server):
    response = post(panel, "/license", key=keys.new_key())
    assert response.status_code == 409
    assert "The store knows no license with this key." in response.get_data(as_text=True)
    key = operator(hub_server, "license", "create", "--owner", "Ada", "--installations", "1")
    taken = requests.post(f"{hub_server.url}/api/license/activate", json={"key": key, "instance": "another"}, timeout=10)
    assert taken.status_code == 200
    response = post(panel, "/license", key=key)
    assert "already used by as many installations as it allows" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(LicenseState, 1).last_error == "no_installation_left"


# --- trial, expiry, coupon ------------------------------------------------------------------------

def test_trial_expiry_disables_keeps_settings_and_a_coupon_enables_again(app, panel, clock):
    activate(panel)
    assert 'data-license-action="trial"' in page(panel, "/marketplace") and "Try free for 14 days" in page(panel, "/marketplace")
    response = post(panel, f"/marketplace/{PAID}/trial")
    assert response.status_code == 303
    assert "Trial: 14 days left" in page(panel, f"/marketplace/{PAID}")
    assert install(app)[0] == "done"
    assert htmx_post(panel, f"/modules/{PAID}/enable").status_code == 200
    with app.app_context():
        db.session.add(ModuleSetting(slug=PAID, key="company", value="ACME"))
        db.session.commit()
    assert "Trial: 14 days left" in card(panel)
    assert "14 days left" in page(panel)

    travel(clock, 12)
    dashboard = page(panel, "/")
    widget = dashboard[dashboard.index("license-widget"):dashboard.index("</section>")]
    assert "The trial of Invoices Pro ends in 2 days." in widget and 'href="/license#coupon"' in widget, widget

    travel(clock, 15)
    html = card(panel)  # the first request after the end disables it, no network needed
    assert 'data-state="disabled"' in html and "Trial ended on 15 May 2026: activate a coupon" in html
    assert panel.get(f"/m/{PAID}/").status_code == 404
    with app.app_context():
        assert db.session.get(ModuleSetting, (PAID, "company")).value == "ACME"
    refused = htmx_post(panel, f"/modules/{PAID}/enable")
    assert refused.status_code == 409 and "Trial ended on" in refused.get_data(as_text=True)

    response = post(panel, "/license/coupon", code=DEMO_COUPONS[0])
    assert response.status_code == 303
    assert "Coupon accepted: it added Invoices Pro." in page(panel)
    assert htmx_post(panel, f"/modules/{PAID}/enable").status_code == 200
    assert module_row(app).state == "enabled" and "Owned" in card(panel)
    assert "ACME" in panel.get(f"/m/{PAID}/").get_data(as_text=True)


def test_a_badge_is_in_the_readers_language_and_counts_the_days_left(app, panel, clock):
    """The badge's words are kept per language and value by each worker: switching the language, or
    a day going by, shows other words at once."""
    activate(panel)
    post(panel, f"/marketplace/{PAID}/trial")
    assert install(app)[0] == "done"
    assert "Trial: 14 days left" in card(panel)
    assert post(panel, "/language", locale="fr").status_code in (302, 303)
    assert "Essai : 14 jours restants" in card(panel)
    travel(clock, 13)
    assert "Essai : 1 jour restant" in card(panel)
    assert post(panel, "/language", locale="en").status_code in (302, 303)
    assert "Trial: 1 day left" in card(panel)


def test_reinstalling_the_module_or_the_panel_keeps_the_original_trial(app, panel, hub_server, clock, tmp_path,
                                                                     migrated_db):
    activate(panel)
    post(panel, f"/marketplace/{PAID}/trial")
    assert install(app)[0] == "done"
    travel(clock, 3)
    post(panel, f"/modules/{PAID}/uninstall")
    assert module_row(app) is None
    assert install(app)[0] == "done"
    assert "Trial: 11 days left" in card(panel)
    response = post(panel, f"/marketplace/{PAID}/trial")
    follow = panel.get(response.headers["Location"]).get_data(as_text=True)
    assert "already started: it ends on 15 May 2026" in follow

    # the whole panel again: a new instance folder and database, hence a new installation id
    fresh = make_app(tmp_path / "fresh-instance", migrated_db, MARKETPLACE_URL=hub_server.url, SESSION_HOURS=24 * 60)
    create_admin(fresh)
    client = fresh.test_client()
    client.csrf = sign_in(client)
    with fresh.app_context():
        catalog.refresh()
    activate(client)
    assert "Trial: 11 days left" in page(client, f"/marketplace/{PAID}")
    with app.app_context():
        first = licenses.installation_id()
    with fresh.app_context():
        assert licenses.installation_id() != first
    response = post(client, f"/marketplace/{PAID}/trial")
    assert "already started" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_a_coupon_works_once_and_one_of_two_racing_panels_wins(app, panel, hub_server, tmp_path, migrated_db):
    activate(panel)
    assert post(panel, "/license/coupon", code=DEMO_COUPONS[0]).status_code == 303
    again = post(panel, "/license/coupon", code=DEMO_COUPONS[0])
    assert again.status_code == 409 and "This coupon was already used on 1 May 2026." in again.get_data(as_text=True)

    others = [make_app(tmp_path / f"racer-{n}", migrated_db, MARKETPLACE_URL=hub_server.url) for n in range(2)]
    for other in others:
        with other.app_context():
            store_licenses.activate(DEMO_LICENSE_KEY)
    outcomes, start = [], threading.Barrier(2)

    def redeem(other):
        with other.app_context():
            start.wait(10)
            try:
                store_licenses.redeem(DEMO_COUPONS[1])
                outcomes.append("won")
            except store_licenses.LicenseRefused as exc:
                outcomes.append(exc.reason)

    threads = [threading.Thread(target=redeem, args=(other,)) for other in others]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["coupon_used", "won"]


# --- the token ------------------------------------------------------------------------------------

def test_an_altered_or_forged_token_grants_nothing(app, panel):
    activate(panel)
    post(panel, "/license/coupon", code=DEMO_COUPONS[0])
    assert install(app)[0] == "done"
    htmx_post(panel, f"/modules/{PAID}/enable")
    with app.app_context():
        stored = db.session.get(LicenseState, 1).token
    payload, signature = stored.split(".")
    altered = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    with app.app_context():
        db.session.execute(text("UPDATE license_state SET token = :t"), {"t": f"{altered}.{signature}"})
        db.session.commit()
    html = card(panel)
    assert 'data-state="disabled"' in html
    assert "not one the store signed" in page(panel)
    refused = htmx_post(panel, f"/modules/{PAID}/enable")
    assert refused.status_code == 409


# --- the store down -------------------------------------------------------------------------------

def test_the_store_down_disables_nothing_before_the_refresh_deadline(app, panel, hub_server, clock):
    activate(panel)
    post(panel, "/license/coupon", code=DEMO_COUPONS[0])
    assert install(app)[0] == "done"
    htmx_post(panel, f"/modules/{PAID}/enable")
    hub_server.stop()

    travel(clock, 2)
    page(panel, "/modules")  # notices the token is a day old: refreshes in the background, which fails
    store_licenses.wait_for_background()
    html = page(panel)
    assert module_row(app).state == "enabled"
    facts = html[html.index("license-facts"):html.index("license-key-form")]
    assert "2 days ago" in facts and "The store could not be reached." in facts, facts
    assert "Nothing is disabled before 15 May 2026." in html

    travel(clock, 14.5)
    html = card(panel)
    assert 'data-state="disabled"' in html and "had to be checked with the store by 15 May 2026" in html


def test_check_now_and_the_daily_refresh_bring_the_stores_changes(app, panel, hub_server, clock):
    activate(panel)
    operator(hub_server, "trial", "set", DEMO_LICENSE_KEY, PAID, "--started", "2026-04-30")
    assert "Trial: 13 days left" not in page(panel, f"/marketplace/{PAID}")  # the token does not know yet
    response = post(panel, "/license/refresh")
    assert response.status_code == 303
    assert "Trial: 13 days left" in page(panel, f"/marketplace/{PAID}")
    with app.app_context():
        checked = db.session.get(LicenseState, 1).checked_at
    travel(clock, 1.5)
    page(panel, "/")
    store_licenses.wait_for_background()
    with app.app_context():
        assert db.session.get(LicenseState, 1).checked_at > checked


# --- updates until --------------------------------------------------------------------------------

def test_versions_released_before_updates_until_stay_installable(app, panel, hub_server):
    key = operator(hub_server, "license", "create", "--owner", "Bo", "--module", PAID,
                   "--updates-until", "2025-03-01")
    activate(panel, key)
    state, message = install(app, "1.0.0")  # released 2025-01-10, before the updates ended
    assert state == "done", message
    with pytest.raises(Exception) as refused:
        install(app, "1.1.0")  # released 2025-04-22, after
    assert "released after your updates ended on 1 March 2025" in str(refused.value)
    response = post(panel, f"/marketplace/{PAID}/install", version="1.1.0")
    assert response.status_code == 409 and module_row(app).version == "1.0.0"


# --- no way round ---------------------------------------------------------------------------------

def test_direct_posts_the_upload_and_the_cli_are_refused_without_a_license(app, panel, tmp_path):
    response = post(panel, f"/marketplace/{PAID}/install")
    assert response.status_code == 409 and "This module is paid" in response.get_data(as_text=True)
    # the module's own folder copied by hand: found, but not enabled
    with app.app_context():
        shutil.copytree(SOURCES / PAID, app.config["MODULES_PATH"] + f"/{PAID}")
    page(panel, "/modules")
    refused = htmx_post(panel, f"/modules/{PAID}/enable")
    assert refused.status_code == 409 and module_row(app).state == "disabled"
    result = app.test_cli_runner().invoke(args=["modules", "enable", PAID])
    assert result.exit_code != 0 and "This module is paid" in result.output and "Traceback" not in result.output
    # an uploaded package of the paid slug
    shutil.rmtree(app.config["MODULES_PATH"] + f"/{PAID}")
    with app.app_context():
        db.session.execute(text("DELETE FROM modules WHERE slug = :s"), {"s": PAID})
        db.session.commit()
    archive = shutil.make_archive(str(tmp_path / PAID), "zip", SOURCES / PAID)
    result = app.test_cli_runner().invoke(args=["modules", "install-file", archive])
    assert result.exit_code != 0 and "This module is paid" in result.output
    with app.app_context():  # the pipeline itself refuses too, whatever checked (or did not check) before
        with pytest.raises(Conflict, match="This module is paid"):
            install_package(archive, "test", source="upload")
    assert module_row(app) is None


# --- the command line -----------------------------------------------------------------------------

def test_license_commands(app, hub_server):
    runner = app.test_cli_runner()
    with app.app_context():
        catalog.refresh()
    result = runner.invoke(args=["license", "set", "PANEL-12345"])
    assert result.exit_code == 1 and result.output.count("\n") == 1 and "Error:" in result.output
    result = runner.invoke(args=["license", "set", DEMO_LICENSE_KEY])
    assert result.exit_code == 0 and "Demo" in result.output
    result = runner.invoke(args=["modules", "trial", PAID])
    assert result.exit_code == 0 and "14 day(s)" in result.output, result.output
    result = runner.invoke(args=["modules", "trial", PAID])
    assert result.exit_code == 1 and "already started" in result.output
    result = runner.invoke(args=["license", "show", "--json"])
    assert result.exit_code == 0
    shown = __import__("json").loads(result.output)
    assert shown["owner"] == "Demo" and shown["modules"][PAID]["days_left"] == 14
    result = runner.invoke(args=["license", "coupon", DEMO_COUPONS[1]])
    assert result.exit_code == 0 and PAID in result.output
    result = runner.invoke(args=["license", "coupon", DEMO_COUPONS[1]])
    assert result.exit_code == 1 and "already used" in result.output
    result = runner.invoke(args=["license", "refresh"])
    assert result.exit_code == 0
    result = runner.invoke(args=["license", "show"])
    assert result.exit_code == 0 and re.search(rf"{PAID}\s+coupon until for ever", result.output), result.output
