"""License keys, coupon codes and the license token: checked offline, no store involved."""

import base64
import io
import json
import zipfile
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from panel.hub.licenses import DEMO_COUPONS, DEMO_LICENSE_KEY
from panel.hub.store import Store
from panel.licensing import keys, token
from panel.licensing import package_signature as signatures

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)


# --- keys and coupons ----------------------------------------------------------------------------

def test_new_keys_and_coupons_have_their_shape_and_pass_their_check():
    key, coupon = keys.new_key(), keys.new_coupon()
    assert len(key.split("-")) == 5 and key.startswith("PANEL-") and all(len(g) == 5 for g in key.split("-")[1:])
    assert coupon.startswith("PANELUPD-") and [len(g) for g in coupon.split("-")[1:]] == [5, 5, 5]
    assert keys.is_valid_key(key) and keys.is_valid_coupon(coupon)
    assert not keys.is_valid_coupon(key) and not keys.is_valid_key(coupon)
    assert len({keys.new_key() for _ in range(200)}) == 200


def test_the_alphabet_has_no_look_alike_characters():
    assert not set("01OIL") & set(keys.ALPHABET)
    with pytest.raises(keys.KeyFormatError) as refused:
        keys.check_key("PANEL-DEMKY-TRYME-ABCDE-FGH0J")
    assert refused.value.problem == "character" and "0" in str(refused.value)


def test_a_key_typed_any_way_is_normalized():
    for typed in ("panel-demky-tryme-abcde-fghj6", "  PANEL DEMKY TRYME ABCDE FGHJ6 ",
                  "PANELDEMKYTRYMEABCDEFGHJ6", "Panel–DEMKY–TRYME–ABCDE–FGHJ6"):
        assert keys.normalize(typed) == DEMO_LICENSE_KEY
        assert keys.check_key(typed) == DEMO_LICENSE_KEY
    assert keys.check_coupon(DEMO_COUPONS[0].lower().replace("-", " ")) == DEMO_COUPONS[0]
    assert keys.normalize("  not a key ") == "NOT A KEY"


def test_every_single_typo_and_every_swap_of_neighbours_is_caught():
    body = DEMO_LICENSE_KEY.replace("-", "")[len("PANEL"):]
    for position, original in enumerate(body):
        for char in keys.ALPHABET:
            if char != original:
                typo = body[:position] + char + body[position + 1:]
                assert not keys.is_valid_key("PANEL" + typo), typo
        if position + 1 < len(body) and body[position] != body[position + 1]:
            swapped = body[:position] + body[position + 1] + body[position] + body[position + 2:]
            assert not keys.is_valid_key("PANEL" + swapped), swapped


@pytest.mark.parametrize("typed, problem", [
    ("", "empty"), ("   ", "empty"), ("MIKO-DEMKY-TRYME-ABCDE-FGHJ6", "prefix"),
    ("PANEL-DEMKY-TRYME-ABCDE", "length"), ("PANEL-DEMKY-TRYME-ABCDE-FGHJ7", "typo"),
    ("PANEL-DEMKY-TRYME-ABCDE-FGHI6", "character"),
])
def test_a_bad_key_says_what_is_wrong_in_one_sentence(typed, problem):
    with pytest.raises(keys.KeyFormatError) as refused:
        keys.check_key(typed)
    assert refused.value.problem == problem and refused.value.reason == "bad_format"
    assert str(refused.value).endswith(".") and "\n" not in str(refused.value)


def test_the_demo_key_and_coupons_are_well_formed():
    assert keys.check_key(DEMO_LICENSE_KEY) == DEMO_LICENSE_KEY
    assert all(keys.check_coupon(code) == code for code in DEMO_COUPONS)


# --- the token -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def store_key():
    return Ed25519PrivateKey.generate()


def claims(modules, now=NOW):
    return token.make_claims(7, "Ada", "inst-1", modules, now)


def test_a_signed_token_verifies_and_gives_back_its_claims(store_key):
    signed = token.sign(claims({"invoices_pro": {"kind": "owned", "until": None, "updates_until": None}}), store_key)
    assert signed.isascii() and "\n" not in signed  # fits an HTTP header
    got = token.verify(signed, store_key.public_key())
    assert got["owner"] == "Ada" and got["installation"] == "inst-1" and got["license_id"] == 7
    assert token.parse_time(got["refresh_by"]) - token.parse_time(got["issued_at"]) == timedelta(days=14)
    assert token.verify(signed, store_key.public_key(), installation="inst-1") == got
    with pytest.raises(token.TokenError) as copied:  # a token copied to another installation
        token.verify(signed, store_key.public_key(), installation="inst-2")
    assert "another installation" in str(copied.value)


def test_forged_altered_or_malformed_tokens_are_refused(store_key):
    signed = token.sign(claims({}), store_key)
    forged = token.sign(claims({"invoices_pro": {"kind": "owned", "until": None, "updates_until": None}}),
                        Ed25519PrivateKey.generate())
    payload, signature = signed.split(".")
    generous = json.loads(base64.urlsafe_b64decode(payload + "==="))
    generous["modules"] = {"invoices_pro": {"kind": "owned", "until": None, "updates_until": None}}
    altered = base64.urlsafe_b64encode(token.canonical(generous)).rstrip(b"=").decode() + "." + signature
    for bad in (forged, altered, signed[:-2], signed + "x", "", "nonsense", "a.b.c", payload, None):
        with pytest.raises(token.TokenError) as refused:
            token.verify(bad, store_key.public_key())
        assert "license token" in str(refused.value)


def test_a_token_signature_never_passes_for_a_package_signature_nor_the_reverse(tmp_path):
    hub = Store(tmp_path / "key.pem")
    public = hub.key.public_key()
    signed = token.sign(claims({}), hub.key)
    payload = base64.urlsafe_b64decode(signed.split(".")[0] + "===")
    signature = base64.urlsafe_b64decode(signed.split(".")[1] + "===")
    with pytest.raises(InvalidSignature):  # the token's signature does not cover its JSON alone
        public.verify(signature, payload)
    with pytest.raises(ValueError):  # and the store never signs anything that is not a zip as a package
        hub.sign(token.PURPOSE + payload)

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("m/module.json", json.dumps({"v": 1, "modules": {}}))
    package = buffer.getvalue()
    _, package_signature = signatures.parse(hub.sign(package))
    as_token = (base64.urlsafe_b64encode(package).rstrip(b"=").decode() + "." +
                base64.urlsafe_b64encode(package_signature).rstrip(b"=").decode())
    with pytest.raises(token.TokenError):
        token.verify(as_token, public)


def test_entitlement_says_whether_a_module_runs_and_why():
    trial_end = NOW + timedelta(days=14)
    granted = claims({
        "invoices_pro": {"kind": "trial", "until": token.format_time(trial_end), "updates_until": None},
        "crm": {"kind": "owned", "until": None, "updates_until": None},
        "old": {"kind": "coupon", "until": token.format_time(NOW - timedelta(days=1)), "updates_until": None},
    })
    trial = token.entitlement(granted, "invoices_pro", NOW)
    assert trial.active and trial.reason == "trial" and trial.days_left(NOW) == 14
    assert trial.days_left(NOW + timedelta(days=13, hours=1)) == 1
    ended = token.entitlement(granted, "invoices_pro", trial_end)
    assert not ended.active and ended.reason == "trial_ended"
    assert "Trial ended on 2026-05-15" in str(ended.message)
    assert token.entitlement(granted, "crm", NOW + timedelta(days=13)).reason == "owned"
    assert token.entitlement(granted, "old", NOW).reason == "expired"
    assert token.entitlement(granted, "missing", NOW).reason == "not_licensed"
    assert token.entitlement(None, "crm", NOW).reason == "not_licensed"
    overdue = token.entitlement(granted, "crm", NOW + timedelta(days=14, seconds=1))
    assert not overdue.active and overdue.reason == "refresh_overdue"


def test_versions_released_before_updates_until_stay_installable_after_it_lapses():
    granted = claims({"invoices_pro": {"kind": "owned", "until": None, "updates_until": "2025-03-01T00:00:00Z"}})
    later = NOW + timedelta(days=3)
    assert token.may_install(granted, "invoices_pro", "2025-01-10", later)
    assert token.may_install(granted, "invoices_pro", "2025-03-01", later)
    assert not token.may_install(granted, "invoices_pro", "2025-04-22", later)
    assert not token.may_install(granted, "other", "2025-01-10", later)
    assert not token.may_install(granted, "invoices_pro", "2025-01-10", NOW + timedelta(days=15))  # not refreshed
    trial = claims({"invoices_pro": {"kind": "trial", "until": token.format_time(NOW + timedelta(days=14)),
                                     "updates_until": None}})
    assert token.may_install(trial, "invoices_pro", "2025-04-22", NOW)
    assert not token.may_install(trial, "invoices_pro", "2025-01-10", NOW + timedelta(days=14))
