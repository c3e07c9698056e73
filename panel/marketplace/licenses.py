"""The license calls to the store, over HTTP only: activate a key, refresh the token, start a
trial, redeem a coupon; and the daily refresh in the background.

Every answer's token is verified (with the pinned store key, for this installation) before it is
stored; a refusal becomes `LicenseRefused` with one translated sentence chosen by the store's
`reason` code (its English text is never shown).
"""

import logging
import threading
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l

from ..errors import PanelError
from ..licensing import keys, token
from ..models import utcnow
from ..services import licenses
from . import signing
from .client import StoreClient, StoreError

log = logging.getLogger(__name__)
REFRESH_EVERY = timedelta(days=1)

REASONS = {
    "bad_format": _l("The store says this is not a valid key or code."),
    "unknown_key": _l("The store knows no license with this key."),
    "no_installation_left": _l("This key is already used by as many installations as it allows."),
    "not_activated": _l("This installation has not activated the key yet: enter it again on the License page."),
    "bad_installation": _l("The store refused this installation's id."),
    "unknown_module": _l("The store does not sell this module."),
    "free_module": _l("This module is free: it needs no license."),
    "already_licensed": _l("Your license already includes this module: it needs no trial."),
    "trial_used": _l("The trial of this module was already used: it ended on %(date)s."),
    "trial_running": _l("The trial of this module was already started: it ends on %(date)s."),
    "unknown_coupon": _l("The store knows no coupon with this code."),
    "coupon_used": _l("This coupon was already used on %(date)s."),
    "store_unavailable": _l("The store cannot check licenses right now; try again later."),
    "no_key": _l("Enter a license key first."),
    "unreachable": _l("The store could not be reached."),
}


class LicenseRefused(PanelError):
    """The store (or the panel, before asking) refused; `reason` is the code."""

    status = 409

    def __init__(self, reason: str, message=None):
        super().__init__(message or REASONS.get(reason) or _l("The store refused (%(reason)s).", reason=reason[:40]))
        self.reason = reason


def _refusal(status: int, body) -> LicenseRefused:
    body = body if isinstance(body, dict) else {}
    reason = str(body.get("reason") or f"http_{status}")
    if reason == "trial_used":
        ended = token.parse_time(body.get("ended_at"))
        if ended is not None and ended > licenses.now():
            reason = "trial_running"
        return LicenseRefused(reason, str(REASONS[reason]) % {"date": licenses.day(ended)} if ended else None)
    if reason == "coupon_used":
        used = token.parse_time(body.get("used_at"))
        return LicenseRefused(reason, str(REASONS[reason]) % {"date": licenses.day(used)} if used else None)
    return LicenseRefused(reason)


def _call(action: str, key: str, **extra) -> dict:
    """POST to the store; the verified answer (its token stored), or LicenseRefused / StoreError."""
    installation = licenses.installation_id()
    client = StoreClient.from_config(current_app.config)
    try:
        public_key = signing.pinned_key(client)
        status, body = client.post_json(f"api/license/{action}", {"key": key, "instance": installation, **extra})
    except StoreError:
        licenses.save_failure("unreachable")
        raise
    finally:
        client.close()
    if status != 200 or not isinstance(body, dict):
        refusal = _refusal(status, body)
        licenses.save_failure(refusal.reason)
        raise refusal
    if public_key is None:
        raise LicenseRefused("unsigned", _l("The store publishes no signing key: its licenses cannot be checked."))
    try:
        token.verify(body.get("token"), public_key, installation=installation)
    except token.TokenError as exc:
        licenses.save_failure("bad_token")
        raise LicenseRefused("bad_token", exc.message) from None
    licenses.save_token(key, body["token"])
    return body


def _stored_key() -> str:
    key = licenses.current().key
    if not key:
        raise LicenseRefused("no_key")
    return key


def activate(text) -> dict:
    """Activate a key for this installation; a malformed key is refused before any request."""
    key = keys.check_key(text)  # KeyFormatError: one sentence saying what is wrong
    return _call("activate", key)


def refresh() -> dict:
    return _call("refresh", _stored_key())


def start_trial(slug: str) -> dict:
    """The store records the trial once per license and module; the answer's `trial` has its end."""
    return _call("trial", _stored_key(), module=slug)


def redeem(text) -> dict:
    """A coupon; its `added` lists the modules it added. A malformed code is refused before any request."""
    code = keys.check_coupon(text)
    return _call("coupon", _stored_key(), code=code)


# --- the daily refresh ---------------------------------------------------------------------------

_inflight: set[str] = set()
_inflight_lock = threading.Lock()
_threads: list[threading.Thread] = []


def is_due(moment=None) -> bool:
    """A key is stored, the last good check is a day old, and no attempt failed in the last minute(s)."""
    found = licenses.current()
    if not found.key:
        return False
    moment = moment or utcnow()
    if found.checked_at is not None and moment - found.checked_at < REFRESH_EVERY:
        return False
    retry = timedelta(seconds=int(current_app.config["MARKETPLACE_RETRY_FAILED_SECONDS"]))
    return not (found.last_error and found.attempted_at and moment - found.attempted_at < retry)


def refresh_in_background() -> bool:
    """Start a refresh thread when the token is a day old and none runs in this process; never waits."""
    if not is_due():
        return False
    slot = current_app.config["SQLALCHEMY_DATABASE_URI"]
    with _inflight_lock:
        if slot in _inflight:
            return False
        _inflight.add(slot)
    app = current_app._get_current_object()

    def run():
        try:
            with app.app_context():
                refresh()
        except (PanelError, keys.KeyFormatError) as exc:
            log.warning("background license refresh failed: %s", exc)
        except Exception:  # noqa: BLE001 — a background thread must never die loudly
            log.exception("background license refresh failed")
        finally:
            with _inflight_lock:
                _inflight.discard(slot)

    thread = threading.Thread(target=run, name="license-refresh", daemon=True)
    _threads[:] = [t for t in _threads if t.is_alive()] + [thread]
    thread.start()
    return True


def wait_for_background(timeout: float = 10.0) -> None:
    """Tests and the CLI: wait until this process's refresh threads have finished."""
    for thread in list(_threads):
        thread.join(timeout)
