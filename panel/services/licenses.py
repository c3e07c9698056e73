"""This installation's license, read offline, and the one rule on paid modules.

The license row (installation id, key, the store-signed token, when the store last answered) is in
the database, so every worker and node sees the same entitlements at once. The token is verified
on every check with the store's key the panel pins for package signatures (marketplace/signing),
and read at most once per request (kept on `g`); nothing here uses the network, except pinning
the store's key on a node that never pinned it.

The rule: a module the CATALOG marks paid installs, enables and updates only while the token
entitles it (`panel.licensing.token.may_install` for the version's release date). A package's own
manifest grants nothing.
"""

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

from flask import current_app, g
from flask_babel import format_date
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..errors import Conflict, PanelError
from ..extensions import db
from ..licensing import token
from ..marketplace import catalog, signing
from ..marketplace.client import StoreClient
from ..models import LicenseState, utcnow
from ..runtime import state

log = logging.getLogger(__name__)
ROW_ID = state.LICENSE_ROW_ID
# Tokens already verified, by (token, installation, store key): the same bytes under the same key
# verify the same way, so a request re-uses the answer instead of running Ed25519 again.
_VERIFIED: dict[tuple, dict] = {}
_VERIFIED_MAX = 32
_READ = select(LicenseState.__table__).where(LicenseState.id == ROW_ID)


@dataclass(frozen=True)
class License:
    """The license as one request sees it. `claims` is None unless the stored token verified."""

    installation_id: str | None
    key: str | None
    token: str | None
    claims: dict | None
    token_error: str | None
    checked_at: datetime | None  # naive UTC: the last time the store answered with a token
    attempted_at: datetime | None
    last_error: str | None       # the store's reason code (or "unreachable") of the last failed call
    verifiable: bool = True      # False while this node has no pinned store key to check the token with

    @property
    def owner(self) -> str:
        return str((self.claims or {}).get("owner") or "")

    @property
    def refresh_by(self) -> datetime | None:
        return token.parse_time((self.claims or {}).get("refresh_by"))


def now() -> datetime:
    return datetime.now(timezone.utc)


def _public_key():
    """The store's pinned key; pinned now (one request, once per node) when this node has none."""
    known = signing.known_key(catalog.store_url())
    if known is not None:
        return known
    client = StoreClient.from_config(current_app.config)
    try:
        return signing.pinned_key(client)
    except PanelError as exc:
        log.warning("the store's key could not be pinned: %s", exc)
        return None
    finally:
        client.close()


def _verified(row) -> tuple[dict | None, str | None, bool]:
    if row is None or not row.token:
        return None, None, True
    key = _public_key()
    if key is None:
        return None, str(_l("The store's signing key is not known yet: check the license again when the store "
                            "can be reached.")), False
    seen = (row.token, row.installation_id, key.public_bytes_raw())
    claims = _VERIFIED.get(seen)
    if claims is not None:
        return claims, None, True
    try:
        claims = token.verify(row.token, key, installation=row.installation_id)
    except token.TokenError as exc:
        return None, str(exc), True
    if len(_VERIFIED) >= _VERIFIED_MAX:
        _VERIFIED.clear()
    _VERIFIED[seen] = claims
    return claims, None, True


def current() -> License:
    """The license, read and verified once per request."""
    cached = g.get("_panel_license")
    if cached is not None:
        return cached
    row = state.take_license_row()  # read with the counters, at the start of this request
    if row is state.NOT_READ:
        row = db.session.connection().execute(_READ).first()
    claims, error, verifiable = _verified(row)
    found = License(row.installation_id if row else None, row.license_key if row else None,
                    row.token if row else None, claims, error, row.checked_at if row else None,
                    row.attempted_at if row else None, row.last_error if row else None, verifiable)
    g._panel_license = found
    return found


def forget() -> None:
    """After a write: the next `current()` reads the database again."""
    g.pop("_panel_license", None)
    state.drop_license_row()


def installation_id() -> str:
    """This installation's id, made on first call (random) and kept: every node shares it."""
    found = current().installation_id
    if found:
        return found
    try:
        with db.session.begin_nested():
            db.session.add(LicenseState(id=ROW_ID, installation_id=f"inst-{secrets.token_hex(12)}"))
    except IntegrityError:  # another worker made it first: keep theirs
        pass
    db.session.commit()
    forget()
    return current().installation_id


def save(**values) -> None:
    """Write the license row (made first when missing) and commit."""
    installation_id()
    db.session.execute(update(LicenseState).where(LicenseState.id == ROW_ID).values(**values))
    db.session.commit()
    forget()


def save_token(key: str, token_text: str) -> None:
    moment = utcnow()
    save(license_key=key, token=token_text, checked_at=moment, attempted_at=moment, last_error=None)


def save_failure(reason: str) -> None:
    save(attempted_at=utcnow(), last_error=reason[:64])


# --- the rule ------------------------------------------------------------------------------------

# (database, catalog id, fetched at) -> the paid slugs: a catalog's rows change only with a refresh,
# which moves `fetched_at`, so a process reads them once per refresh, not once per request.
_paid_by_catalog: dict[tuple, frozenset] = {}


def paid_slugs() -> frozenset:
    """The modules the catalog marks paid (the manifest is never asked)."""
    shown = catalog.current_catalog()
    key = (current_app.config["SQLALCHEMY_DATABASE_URI"], shown.id, shown.fetched_at)
    found = _paid_by_catalog.get(key)
    if found is None:
        found = frozenset(catalog.paid_slugs())
        if len(_paid_by_catalog) > 16:  # one entry per database this process serves
            _paid_by_catalog.clear()
        _paid_by_catalog[key] = found
    return found


def paid_entry(slug: str) -> dict | None:
    """The catalog's entry of `slug` when the catalog says it is paid."""
    return catalog.entry(slug) if slug in paid_slugs() else None


def entitlement(slug: str, moment: datetime | None = None) -> token.Entitlement | None:
    """What the license grants `slug` now; None for a free module (or one the catalog does not know)."""
    if slug not in paid_slugs():
        return None
    return token.entitlement(current().claims, slug, moment or now())


def day(moment: datetime | None) -> str:
    return format_date(moment, "d MMMM y") if moment else ""


def explain(granted: token.Entitlement) -> str:
    """One sentence: why this paid module may not run (or until when it may)."""
    until = day(granted.until)
    if granted.reason == "trial":
        return str(_l("On trial until %(date)s.", date=until))
    if granted.reason in ("owned", "coupon"):
        return str(_l("Licensed until %(date)s.", date=until) if granted.until else _l("Licensed."))
    if granted.reason == "trial_ended":
        return str(_l("Trial ended on %(date)s: activate a coupon to keep using it.", date=until))
    if granted.reason == "expired":
        return str(_l("License ended on %(date)s: renew it to keep using this module.", date=until))
    if granted.reason == "refresh_overdue":
        return str(_l("The license had to be checked with the store by %(date)s: check it now.",
                      date=day(granted.refresh_by)))
    if current().key is None:
        return str(_l("This module is paid: enter your license key on the License page, or start a free trial."))
    return str(_l("This paid module is not part of your license."))


def run_refusal(slug: str) -> str | None:
    """Why `slug` may not be enabled now, or None."""
    granted = entitlement(slug)
    return None if granted is None or granted.active else explain(granted)


def release_date(entry: dict, version: str) -> datetime:
    """When the catalog says `version` was released; a version it does not list counts as released now."""
    release = next((r for r in entry["versions"] if r["version"] == version), None)
    try:
        return token.parse_time(release["date"]) if release and release.get("date") else now()
    except ValueError:
        return now()


def install_refusal(slug: str, version: str) -> str | None:
    """Why `version` of `slug` may not be installed (or updated to) now, or None."""
    entry = paid_entry(slug)
    if entry is None:
        return None
    granted = token.entitlement(current().claims, slug, now())
    if not granted.active:
        return explain(granted)
    if not token.may_install(current().claims, slug, release_date(entry, version), now()):
        return str(_l("Version %(version)s was released after your updates ended on %(date)s; the versions "
                      "released before stay installable.", version=version, date=day(granted.updates_until)))
    return None


def require_run(slug: str) -> None:
    refusal = run_refusal(slug)
    if refusal:
        raise Conflict(refusal)


def require_install(slug: str, version: str) -> None:
    refusal = install_refusal(slug, version)
    if refusal:
        raise Conflict(refusal)


def download_headers(slug: str) -> dict:
    """The header a paid package's download needs: the stored token (the store checks it again)."""
    stored = current().token
    return {"X-License-Token": stored} if paid_entry(slug) is not None and stored else {}
