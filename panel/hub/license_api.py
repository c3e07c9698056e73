"""The store's licensing API (JSON, POST) and the license check on paid downloads.

    POST /api/license/activate  {key, instance}          -> {token, claims}
    POST /api/license/refresh   {key, instance}          -> {token, claims}
    POST /api/license/trial     {key, instance, module}  -> {token, claims, trial}
    POST /api/license/coupon    {key, instance, code}    -> {token, claims, added: {modules, days}}

A refusal is 4xx `{"error": one sentence, "reason": code, …}`. A paid package's download needs
the header `X-License-Token: <token>` entitling that version (see `panel.licensing.token`).
"""

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from flask import Flask, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from ..licensing import token
from .licenses import LicenseStore, Refused

TOKEN_HEADER = "X-License-Token"

DOWNLOAD_REFUSALS = {
    "license_required": "This module is paid: send a license token that entitles it (header X-License-Token).",
    "bad_token": "The license token is not one this store signed.",
    "not_licensed": "Your license does not include this module.",
    "trial_ended": "The trial of this module has ended.",
    "expired": "Your license for this module has ended.",
    "refresh_overdue": "The license token is too old: refresh it first.",
    "released_after_updates": "This version was released after your updates ended.",
}


def refused(reason: str, status: int = 403):
    return jsonify({"error": DOWNLOAD_REFUSALS[reason], "reason": reason}), status


def download_refusal(public_key: Ed25519PublicKey, slug: str, release_date: str, header: str | None):
    """None when the request's token entitles this version of a paid module, else the 403 answer."""
    if not header:
        return refused("license_required")
    try:
        claims = token.verify(header, public_key)
    except token.TokenError:
        return refused("bad_token")
    granted = token.entitlement(claims, slug)
    if not granted.active:
        return refused(granted.reason)
    if not token.may_install(claims, slug, release_date):
        return refused("released_after_updates")
    return None


def register(hub: Flask, licenses: LicenseStore) -> None:
    def body() -> dict:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise Refused(400, "bad_request", "Send a JSON object.")
        return data

    def answer(token_text: str, claims: dict, **extra):
        return jsonify({"token": token_text, "claims": claims, **extra})

    @hub.errorhandler(Refused)
    def refusal(exc: Refused):
        return jsonify(exc.body()), exc.status

    @hub.errorhandler(SQLAlchemyError)
    def database_down(exc: SQLAlchemyError):
        hub.logger.error("license database error: %s", exc)
        return jsonify({"error": "The store's license database is unavailable; try again later.",
                        "reason": "store_unavailable"}), 503

    @hub.post("/api/license/activate")
    def activate():
        data = body()
        return answer(*licenses.activate(data.get("key"), data.get("instance")))

    @hub.post("/api/license/refresh")
    def refresh():
        data = body()
        return answer(*licenses.refresh(data.get("key"), data.get("instance")))

    @hub.post("/api/license/trial")
    def trial():
        data = body()
        token_text, claims, started = licenses.start_trial(data.get("key"), data.get("instance"), data.get("module"))
        return answer(token_text, claims, trial=started)

    @hub.post("/api/license/coupon")
    def coupon():
        data = body()
        token_text, claims, added = licenses.redeem(data.get("key"), data.get("instance"), data.get("code"))
        return answer(token_text, claims, added=added)
