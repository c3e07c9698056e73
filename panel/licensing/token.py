"""The license token: claims the store signs with its Ed25519 key, verified offline by the panel.

Wire form (ASCII, fits an HTTP header and a database column):

    base64url(payload) "." base64url(signature)      (no padding)

`payload` is the claims as canonical JSON (UTF-8, sorted keys, no spaces). The signature covers
`PURPOSE + payload`, never the payload alone. Package signatures cover another purpose prefix
(`package_signature.PURPOSE`) or, from older stores, the zip's bytes (they start with b"PK"), so a
package signature can never pass for a token and a token signature can never pass for a package.

Claims (times are UTC, ISO 8601 with a trailing "Z"):

    v             1
    license_id    the store's id of the license
    owner         the license's owner
    installation  the installation id the token is bound to
    issued_at     when the store signed it
    refresh_by    issued_at + REFRESH_DAYS: past it the token grants nothing until refreshed
                  (the panel refreshes daily, so the store may be unreachable for two weeks)
    modules       slug -> {"kind": "owned"|"trial"|"coupon",
                           "until": time or null (for ever),
                           "updates_until": time or null (every version)}

A module listed with `until` in the past is kept in the token so the panel can say why it stopped
("Trial ended on …").
"""

from __future__ import annotations  # `ed25519.…Key` in a signature must not import cryptography

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from flask_babel import lazy_gettext as _l

from ..extensions import lazy_module

# Imported by the first token signed or verified: reading claims and entitlements needs no cryptography.
crypto_exceptions = lazy_module("cryptography.exceptions")
ed25519 = lazy_module("cryptography.hazmat.primitives.asymmetric.ed25519")

PURPOSE = b"module-panel license-token v1\n"
VERSION = 1
REFRESH_DAYS = 14
KINDS = ("owned", "trial", "coupon")


class TokenError(ValueError):
    """A token that is forged, altered, malformed or signed by another key: it grants nothing."""

    def __init__(self, message=None):
        self.message = message or _l("The license token is not one the store signed; activate the key again.")
        super().__init__(self.message)

    def __str__(self) -> str:
        return str(self.message)


# --- times ---------------------------------------------------------------------------------------

def format_time(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value) -> datetime | None:
    """An aware UTC datetime from a claim ("…Z"), a date ("2025-04-22": its midnight UTC) or a datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


# --- signing -------------------------------------------------------------------------------------

def canonical(claims: dict) -> bytes:
    return json.dumps(claims, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(claims: dict, private_key: ed25519.Ed25519PrivateKey) -> str:
    payload = canonical(claims)
    return f"{_b64(payload)}.{_b64(private_key.sign(PURPOSE + payload))}"


def verify(token, public_key: ed25519.Ed25519PublicKey, installation: str | None = None) -> dict:
    """The claims of a token this key signed (for `installation`, when given); TokenError for
    anything else, with no detail: a forger has nothing to learn from it."""
    try:
        payload_text, signature_text = str(token).strip().split(".")
        payload, signature = _unb64(payload_text), _unb64(signature_text)
        public_key.verify(signature, PURPOSE + payload)
        claims = json.loads(payload.decode("utf-8"))
    except (ValueError, TypeError, binascii.Error, crypto_exceptions.InvalidSignature, UnicodeDecodeError):
        raise TokenError() from None
    if not isinstance(claims, dict) or claims.get("v") != VERSION or not isinstance(claims.get("modules"), dict):
        raise TokenError()
    if installation is not None and claims.get("installation") != installation:
        raise TokenError(_l("The license token belongs to another installation; activate the key again."))
    return claims


def make_claims(license_id, owner: str, installation: str, modules: dict, now: datetime | None = None) -> dict:
    issued = now or utcnow()
    return {"v": VERSION, "license_id": license_id, "owner": owner, "installation": installation,
            "issued_at": format_time(issued), "refresh_by": format_time(issued + timedelta(days=REFRESH_DAYS)),
            "modules": modules}


# --- what a token grants -------------------------------------------------------------------------

@dataclass(frozen=True)
class Entitlement:
    """Whether `slug` may run now, and why. `reason` is a code:

    active:   "owned", "trial", "coupon"
    inactive: "not_licensed", "trial_ended", "expired", "refresh_overdue"
    """

    slug: str
    active: bool
    reason: str
    kind: str | None = None
    until: datetime | None = None
    updates_until: datetime | None = None
    refresh_by: datetime | None = None

    def days_left(self, now: datetime) -> int | None:
        """Whole days left (a part of a day counts as one), None when it never ends."""
        if self.until is None:
            return None
        seconds = (self.until - now).total_seconds()
        return max(0, -int(-seconds // 86400))

    @property
    def message(self):
        """One sentence for the administrator (dates in ISO form; the panel may format its own)."""
        day = self.until.date().isoformat() if self.until else ""
        if self.reason == "trial":
            return _l("On trial until %(date)s.", date=day)
        if self.reason in ("owned", "coupon"):
            return _l("Licensed until %(date)s.", date=day) if self.until else _l("Licensed.")
        if self.reason == "trial_ended":
            return _l("Trial ended on %(date)s: activate a coupon to keep using it.", date=day)
        if self.reason == "expired":
            return _l("License ended on %(date)s: renew it to keep using this module.", date=day)
        if self.reason == "refresh_overdue":
            return _l("The license had to be checked with the store by %(date)s: check it now.",
                      date=self.refresh_by.date().isoformat() if self.refresh_by else "")
        return _l("This paid module is not part of your license.")


def entitlement(claims: dict | None, slug: str, now: datetime | None = None) -> Entitlement:
    now = now or utcnow()
    entry = ((claims or {}).get("modules") or {}).get(slug)
    if not claims or not isinstance(entry, dict):
        return Entitlement(slug, False, "not_licensed")
    kind = entry.get("kind") if entry.get("kind") in KINDS else "owned"
    until, updates_until = parse_time(entry.get("until")), parse_time(entry.get("updates_until"))
    refresh_by = parse_time(claims.get("refresh_by"))
    fields = dict(kind=kind, until=until, updates_until=updates_until, refresh_by=refresh_by)
    if until is not None and now >= until:
        return Entitlement(slug, False, "trial_ended" if kind == "trial" else "expired", **fields)
    if refresh_by is not None and now >= refresh_by:
        return Entitlement(slug, False, "refresh_overdue", **fields)
    return Entitlement(slug, True, kind, **fields)


def may_install(claims: dict | None, slug: str, release_date, now: datetime | None = None) -> bool:
    """May this version be installed or updated to? Only while the module is entitled, and only a
    version released no later than `updates_until`: after updates lapse, the versions released
    before stay installable (a reinstall, a downgrade, a fix), the later ones do not."""
    granted = entitlement(claims, slug, now)
    if not granted.active:
        return False
    released = parse_time(release_date)
    return granted.updates_until is None or released is None or released <= granted.updates_until
