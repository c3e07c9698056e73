"""A store key of the test's own, pinned for the panel, and tokens signed with it: for tests that
need a license in the database without a store (the card view model, the toggle benchmark)."""

import base64
import json
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from panel.extensions import db
from panel.licensing import token
from panel.marketplace import catalog
from panel.services import license_expiry, licenses


def pin_key(app) -> Ed25519PrivateKey:
    """A new store key, pinned for the app's MARKETPLACE_URL as the store's own would be."""
    private = Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    with app.app_context():
        url = catalog.store_url()
    pins = Path(app.instance_path) / "marketplace_keys.json"
    pins.write_text(json.dumps({url: base64.b64encode(raw).decode()}))
    return private


def store_token(app, private: Ed25519PrivateKey, modules: dict, owner="Tester", now=None) -> str:
    """Sign a token granting `modules` (slug -> {"kind", "until", "updates_until"}) and store it."""
    with app.app_context():
        installation = licenses.installation_id()
        claims = token.make_claims(1, owner, installation, modules, now or token.utcnow())
        signed = token.sign(claims, private)
        licenses.save_token("PANEL-DEMKY-TRYME-ABCDE-FGHJ6", signed)
        license_expiry.forget()
        db.session.remove()
    return signed


def trial(days: int, now=None) -> dict:
    until = (now or token.utcnow()) + timedelta(days=days)
    return {"kind": "trial", "until": token.format_time(until), "updates_until": None}
