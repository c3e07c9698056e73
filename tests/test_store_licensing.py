"""The store side of licensing, against the hub on a loopback port with real HTTP.

Time moves with time-machine (the hub runs in a thread of this process, so it travels too).
"""

import base64
import sqlite3
import threading
from datetime import datetime, timedelta, timezone

import pytest
import requests
import time_machine
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import inspect

from conftest import HubServer
from panel.hub import create_hub
from panel.hub.licenses import DEMO_COUPONS, DEMO_LICENSE_KEY
from panel.licensing import keys, token

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def store(tmp_path):
    server = HubServer(tmp_path / "hub")
    yield server
    server.stop()
    server.hub.extensions["hub_licenses"].database.dispose()


def post(store, action, **data):
    return requests.post(f"{store.url}/api/license/{action}", json=data, timeout=10)


def public_key(store) -> Ed25519PublicKey:
    raw = requests.get(f"{store.url}/api/public-key", timeout=10).json()["key"]
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(raw))


def operator(store, *args) -> str:
    result = store.hub.test_cli_runner().invoke(args=["store", *args])
    assert result.exit_code == 0, result.output
    return result.output.strip()


def refused(response, status, reason) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["reason"] == reason and body["error"].endswith(".") and "\n" not in body["error"]
    return body


# --- activation ----------------------------------------------------------------------------------

def test_the_demo_key_activates_and_the_token_verifies_offline(store):
    response = post(store, "activate", key=DEMO_LICENSE_KEY.lower(), instance="inst-a")
    assert response.status_code == 200, response.text
    claims = token.verify(response.json()["token"], public_key(store))
    assert claims == response.json()["claims"]
    assert claims["owner"] == "Demo" and claims["installation"] == "inst-a" and claims["modules"] == {}
    issued = token.parse_time(claims["issued_at"])
    assert token.parse_time(claims["refresh_by"]) == issued + timedelta(days=token.REFRESH_DAYS)
    again = post(store, "refresh", key=DEMO_LICENSE_KEY, instance="inst-a")
    assert again.status_code == 200 and token.verify(again.json()["token"], public_key(store))["owner"] == "Demo"


def test_installation_limit_unknown_key_bad_format_and_refresh_before_activation(store):
    key = operator(store, "license", "create", "--owner", "Ada", "--installations", "2")
    assert keys.is_valid_key(key)
    assert post(store, "activate", key=key, instance="one").status_code == 200
    assert post(store, "activate", key=key, instance="two").status_code == 200
    assert post(store, "activate", key=key, instance="one").status_code == 200  # the same one again: fine
    body = refused(post(store, "activate", key=key, instance="three"), 409, "no_installation_left")
    assert "2 installation" in body["error"]
    refused(post(store, "activate", key=keys.new_key(), instance="one"), 404, "unknown_key")
    refused(post(store, "activate", key="PANEL-DEMKY-TRYME-ABCDE-FGHJ7", instance="one"), 400, "bad_format")
    refused(post(store, "activate", key="hello", instance="one"), 400, "bad_format")
    refused(post(store, "activate", key=key, instance=""), 400, "bad_installation")
    refused(post(store, "refresh", key=key, instance="three"), 403, "not_activated")
    bad_json = requests.post(f"{store.url}/api/license/activate", data="{", timeout=10,
                             headers={"Content-Type": "application/json"})
    refused(bad_json, 400, "bad_request")


# --- trials --------------------------------------------------------------------------------------

def test_a_trial_runs_14_days_once_per_license_whatever_the_installation(store):
    with time_machine.travel(T0, tick=False):
        assert post(store, "activate", key=DEMO_LICENSE_KEY, instance="first").status_code == 200
        assert post(store, "activate", key=DEMO_LICENSE_KEY, instance="reinstalled").status_code == 200
        started = post(store, "trial", key=DEMO_LICENSE_KEY, instance="first", module="invoices_pro")
        assert started.status_code == 200, started.text
        assert started.json()["trial"]["ends_at"] == "2026-05-15T09:00:00Z"
        granted = token.entitlement(token.verify(started.json()["token"], public_key(store)), "invoices_pro", T0)
        assert granted.active and granted.kind == "trial" and granted.days_left(T0) == 14

    with time_machine.travel(T0 + timedelta(days=10), tick=False):
        body = refused(post(store, "trial", key=DEMO_LICENSE_KEY, instance="reinstalled", module="invoices_pro"),
                       409, "trial_used")
        assert "2026-05-15" in body["error"]
        claims = post(store, "refresh", key=DEMO_LICENSE_KEY, instance="reinstalled").json()["claims"]
        assert token.entitlement(claims, "invoices_pro").days_left(T0 + timedelta(days=10)) == 4

    with time_machine.travel(T0 + timedelta(days=20), tick=False):
        for installation in ("first", "reinstalled"):
            body = refused(post(store, "trial", key=DEMO_LICENSE_KEY, instance=installation, module="invoices_pro"),
                           409, "trial_used")
            assert body["error"] == "The trial of invoices_pro was already used: it ended on 2026-05-15."
            assert body["ended_at"] == "2026-05-15T09:00:00Z"
        claims = post(store, "refresh", key=DEMO_LICENSE_KEY, instance="first").json()["claims"]
        ended = token.entitlement(claims, "invoices_pro")
        assert not ended.active and ended.reason == "trial_ended"


def test_trials_only_of_paid_modules_the_store_sells(store):
    post(store, "activate", key=DEMO_LICENSE_KEY, instance="one")
    refused(post(store, "trial", key=DEMO_LICENSE_KEY, instance="one", module="hello"), 400, "free_module")
    refused(post(store, "trial", key=DEMO_LICENSE_KEY, instance="one", module="nope"), 404, "unknown_module")
    refused(post(store, "trial", key=DEMO_LICENSE_KEY, instance="other", module="invoices_pro"), 403, "not_activated")


def test_the_operator_moves_a_trial_to_try_its_expiry(store):
    post(store, "activate", key=DEMO_LICENSE_KEY, instance="one")
    printed = operator(store, "trial", "set", DEMO_LICENSE_KEY, "invoices_pro", "--started", "2026-01-01")
    assert "2026-01-15" in printed
    claims = post(store, "refresh", key=DEMO_LICENSE_KEY, instance="one").json()["claims"]
    assert token.entitlement(claims, "invoices_pro").reason == "trial_ended"
    refused(post(store, "trial", key=DEMO_LICENSE_KEY, instance="one", module="invoices_pro"), 409, "trial_used")


# --- coupons -------------------------------------------------------------------------------------

def test_a_coupon_adds_its_module_once(store):
    post(store, "activate", key=DEMO_LICENSE_KEY, instance="one")
    redeemed = post(store, "coupon", key=DEMO_LICENSE_KEY, instance="one", code=DEMO_COUPONS[0].lower())
    assert redeemed.status_code == 200, redeemed.text
    assert redeemed.json()["added"] == {"modules": ["invoices_pro"], "days": None}
    owned = token.entitlement(token.verify(redeemed.json()["token"], public_key(store)), "invoices_pro")
    assert owned.active and owned.kind == "coupon" and owned.until is None
    body = refused(post(store, "coupon", key=DEMO_LICENSE_KEY, instance="one", code=DEMO_COUPONS[0]),
                   409, "coupon_used")
    assert body["used_at"]
    refused(post(store, "trial", key=DEMO_LICENSE_KEY, instance="one", module="invoices_pro"), 409, "already_licensed")
    refused(post(store, "coupon", key=DEMO_LICENSE_KEY, instance="one", code=keys.new_coupon()), 404, "unknown_coupon")
    refused(post(store, "coupon", key=DEMO_LICENSE_KEY, instance="one", code="PANELUPD-DEMCP-FRST2-TRY22"),
            400, "bad_format")


def test_a_coupon_of_days_extends_a_dated_license(store):
    key = operator(store, "license", "create", "--owner", "Ada", "--module", "invoices_pro", "--until", "2026-06-01")
    code = operator(store, "coupon", "create", "--days", "30")
    assert keys.is_valid_coupon(code)
    with time_machine.travel(T0, tick=False):
        post(store, "activate", key=key, instance="one")
        claims = post(store, "coupon", key=key, instance="one", code=code).json()["claims"]
    assert claims["modules"]["invoices_pro"]["until"] == "2026-07-01T00:00:00Z"


def test_two_panels_racing_for_one_coupon_exactly_one_wins(store):
    ada = operator(store, "license", "create", "--owner", "Ada")
    bob = operator(store, "license", "create", "--owner", "Bob")
    code = operator(store, "coupon", "create", "--module", "invoices_pro")
    post(store, "activate", key=ada, instance="ada-1")
    post(store, "activate", key=bob, instance="bob-1")
    start, answers = threading.Barrier(2), {}

    def redeem(key, installation):
        start.wait()
        answers[installation] = post(store, "coupon", key=key, instance=installation, code=code)

    racers = [threading.Thread(target=redeem, args=args) for args in ((ada, "ada-1"), (bob, "bob-1"))]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=30)
    statuses = sorted(answer.status_code for answer in answers.values())
    assert statuses == [200, 409]
    loser = next(answer for answer in answers.values() if answer.status_code == 409)
    assert loser.json()["reason"] == "coupon_used"


def test_many_installations_activating_and_refreshing_at_once_all_get_a_token(store):
    key = operator(store, "license", "create", "--owner", "Ada", "--installations", "6")
    start, statuses = threading.Barrier(12), []

    def activate_then_refresh(installation):
        start.wait()
        statuses.append(post(store, "activate", key=key, instance=installation).status_code)
        statuses.append(post(store, "refresh", key=key, instance=installation).status_code)

    workers = [threading.Thread(target=activate_then_refresh, args=(f"node-{i % 6}",)) for i in range(12)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert statuses == [200] * 24


# --- downloads -----------------------------------------------------------------------------------

def download(store, slug, version, license_token=None):
    headers = {"X-License-Token": license_token} if license_token else {}
    return requests.get(f"{store.url}/api/modules/{slug}/{version}/download", headers=headers, timeout=10)


def test_a_paid_download_needs_a_token_that_entitles_it(store):
    assert download(store, "hello", "1.0.0").status_code == 200  # free: no token needed
    refused(download(store, "invoices_pro", "1.1.0"), 403, "license_required")
    refused(download(store, "invoices_pro", "1.1.0", "not.a-token"), 403, "bad_token")
    nothing = post(store, "activate", key=DEMO_LICENSE_KEY, instance="one").json()["token"]
    refused(download(store, "invoices_pro", "1.1.0", nothing), 403, "not_licensed")
    trial = post(store, "trial", key=DEMO_LICENSE_KEY, instance="one", module="invoices_pro").json()["token"]
    allowed = download(store, "invoices_pro", "1.1.0", trial)
    assert allowed.status_code == 200 and allowed.content.startswith(b"PK")
    with time_machine.travel(datetime.now(timezone.utc) + timedelta(days=15)):
        refused(download(store, "invoices_pro", "1.1.0", trial), 403, "trial_ended")


def test_updates_until_keeps_earlier_versions_downloadable_after_it_lapses(store):
    key = operator(store, "license", "create", "--owner", "Ada", "--module", "invoices_pro",
                   "--updates-until", "2025-03-01")
    license_token = post(store, "activate", key=key, instance="one").json()["token"]
    assert download(store, "invoices_pro", "1.0.0", license_token).status_code == 200   # released 2025-01-10
    refused(download(store, "invoices_pro", "1.1.0", license_token), 403, "released_after_updates")  # 2025-04-22


# --- the database and the operator ----------------------------------------------------------------

def test_the_store_keeps_its_own_migrated_database_seeded_once(tmp_path):
    folder = tmp_path / "hub"
    hubs = [create_hub({"HUB_INSTANCE_PATH": str(folder)}) for _ in range(4)]  # workers starting together
    errors = []

    def first_use(hub):
        try:
            hub.extensions["hub_licenses"].engine
        except Exception as exc:  # noqa: BLE001 — reported below
            errors.append(exc)

    workers = [threading.Thread(target=first_use, args=(hub,)) for hub in hubs]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert not errors
    engine = hubs[0].extensions["hub_licenses"].engine
    assert {"licenses", "license_modules", "activations", "trials", "coupons", "hub_alembic_version"} <= \
        set(inspect(engine).get_table_names())
    assert "modules" not in inspect(engine).get_table_names()  # none of the panel's tables
    with sqlite3.connect(folder / "hub.db") as connection:
        assert connection.execute("SELECT key, owner, max_installations FROM licenses").fetchall() == \
            [(DEMO_LICENSE_KEY, "Demo", 3)]
        assert sorted(row[0] for row in connection.execute("SELECT code FROM coupons")) == sorted(DEMO_COUPONS)
    for hub in hubs:
        hub.extensions["hub_licenses"].database.dispose()


def test_the_database_url_setting_points_elsewhere(tmp_path):
    target = tmp_path / "elsewhere" / "licenses.db"
    target.parent.mkdir()
    hub = create_hub({"HUB_INSTANCE_PATH": str(tmp_path / "hub"), "HUB_DATABASE_URL": f"sqlite:///{target}"})
    runner = hub.test_cli_runner()
    assert runner.invoke(args=["store", "license", "create", "--owner", "Ada"]).exit_code == 0
    assert target.is_file() and not (tmp_path / "hub" / "hub.db").exists()
    hub.extensions["hub_licenses"].database.dispose()


@pytest.mark.parametrize("args, message", [
    (["license", "create", "--owner", "Ada", "--module", "hello"], "hello is free"),
    (["license", "create", "--owner", "Ada", "--module", "nope"], "no module 'nope'"),
    (["license", "create", "--owner", " "], "owner"),
    (["license", "create", "--owner", "Ada", "--installations", "0"], "at least 1 installation"),
    (["coupon", "create"], "at least one module or some days"),
    (["trial", "set", "PANEL-DEMKY-TRYME-ABCDE-FGHJ7", "invoices_pro", "--started", "2026-01-01"], "typo"),
    (["trial", "set", keys.new_key(), "invoices_pro", "--started", "2026-01-01"], "knows no license"),
])
def test_operator_errors_are_one_line_and_exit_non_zero(tmp_path, args, message):
    hub = create_hub({"HUB_INSTANCE_PATH": str(tmp_path / "hub")})
    result = hub.test_cli_runner().invoke(args=["store", *args])
    assert result.exit_code != 0 and message in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    hub.extensions["hub_licenses"].database.dispose()


def test_a_license_database_that_cannot_be_opened_is_one_sentence_not_a_500(tmp_path):
    url = f"sqlite:///{tmp_path / 'missing-folder' / 'hub.db'}"
    server = HubServer(tmp_path / "hub", HUB_DATABASE_URL=url)
    try:
        refused(post(server, "activate", key=DEMO_LICENSE_KEY, instance="one"), 503, "store_unavailable")
        result = server.hub.test_cli_runner().invoke(args=["store", "license", "create", "--owner", "Ada"])
        assert result.exit_code != 0 and "license database cannot be used" in result.output
        assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    finally:
        server.stop()


def test_the_store_commands_work_from_the_panel_on_its_embedded_hub(app):
    from panel.hub import cli

    cli.init_app(app)
    result = app.test_cli_runner().invoke(args=["store", "coupon", "create", "--module", "invoices_pro",
                                                "--days", "30"])
    assert result.exit_code == 0 and keys.is_valid_coupon(result.output.strip())
    app.extensions["embedded_hub"].app.extensions["hub_licenses"].database.dispose()
