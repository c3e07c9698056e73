"""The marketplace hub: a small reference store that serves the public API over HTTP.

Runs embedded in the panel under `/store` (EMBEDDED_HUB) or alone:

    flask --app panel.hub:create_hub run --port 5050

Settings (the `config` mapping, then the environment):
  HUB_INSTANCE_PATH  folder for the signing key (default: the panel's instance folder)
  HUB_KEY_PATH       the Ed25519 private key (default: <instance>/hub_signing_key.pem, created on first use)
  HUB_SYNTHETIC_MODULES  add N generated entries to the catalog (benchmarks)
  HUB_EXTRA_MODULES  raw catalog entries appended as they are (tests)
  HUB_DATABASE_URL   the licensing database (default: sqlite:///<instance>/hub.db), migrated on first use
  HUB_SEED_DEMO      seed the demo license and coupons (`licenses.DEMO_*`) on first use (default: on)
"""

import os
from pathlib import Path

from flask import Flask, abort, jsonify, request, send_from_directory

from ..config import instance_path_from_env
from . import cli, db, license_api
from .licenses import LicenseStore, seed_demo
from .store import MEDIA, Store


def _instance_path(config: dict) -> Path:
    return Path(config.get("HUB_INSTANCE_PATH") or config.get("INSTANCE_PATH") or instance_path_from_env())


def create_hub(config: dict | None = None) -> Flask:
    config = dict(config or {})
    for key in ("HUB_KEY_PATH", "HUB_SYNTHETIC_MODULES", "HUB_DATABASE_URL"):
        if key not in config and os.environ.get(key):
            config[key] = os.environ[key]
    hub = Flask(__name__, static_folder=None)
    hub.config.update(JSON_SORT_KEYS=False, **config)
    instance = _instance_path(config)
    key_path = Path(config.get("HUB_KEY_PATH") or instance / "hub_signing_key.pem")
    store = Store(key_path, synthetic=int(config.get("HUB_SYNTHETIC_MODULES") or 0),
                  extra=config.get("HUB_EXTRA_MODULES"))
    hub.extensions["hub_store"] = store
    # The database is opened, migrated and seeded on first use, not here: the panel builds the
    # embedded hub on every start (and every test), most of which never touch a license.
    seed = seed_demo if config.get("HUB_SEED_DEMO", True) else None
    database = db.HubDatabase(db.database_url(config, instance), instance / "hub.db.lock", on_ready=seed)
    licenses = LicenseStore(database, store)
    hub.extensions["hub_licenses"] = licenses
    license_api.register(hub, licenses)
    cli.init_app(hub)

    def conditional_json(body: bytes, etag: str):
        response = hub.response_class(body, mimetype="application/json")
        response.set_etag(etag)
        response.headers["Cache-Control"] = "no-cache"
        return response.make_conditional(request)

    def json_with_etag(data):
        response = jsonify(data)
        response.add_etag()
        response.headers["Cache-Control"] = "no-cache"
        return response.make_conditional(request)

    @hub.get("/")
    def index():
        return jsonify({"name": "Module Panel reference marketplace", "api": [
            "api/modules", "api/modules/<slug>", "api/changelog/<slug>", "api/changelog",
            "api/modules/<slug>/<version>/download", "api/public-key", "api/license/activate",
            "api/license/refresh", "api/license/trial", "api/license/coupon"]})

    @hub.get("/api/modules")
    def modules():
        """The catalog; with `since` (an earlier ETag), only what changed since, when remembered."""
        since = request.args.get("since", "")[:64]
        changes = store.changes_since(since) if since else None
        body, etag = changes or store.catalog()
        return conditional_json(body, etag)

    def found(data):
        if data is None:
            abort(404)
        return json_with_etag(data)

    @hub.get("/api/modules/<slug>")
    def module(slug):
        return found(store.detail(slug))

    @hub.get("/api/changelog/<slug>")
    def changelog(slug):
        return found(store.changelog(slug))

    @hub.get("/api/changelog")
    def core_changelog():
        return json_with_etag(store.core_changelog())

    @hub.get("/api/modules/<slug>/<version>/download")
    def download(slug, version):
        release = store.package(slug, version)
        if release is None:
            abort(404)
        if store.get(slug).meta.get("paid"):
            public = store.key.public_key()
            refusal = license_api.download_refusal(public, slug, release.date,
                                                   request.headers.get(license_api.TOKEN_HEADER))
            if refusal is not None:
                return refusal
        response = hub.response_class(release.package, mimetype="application/zip")
        response.headers["Content-Disposition"] = f"attachment; filename={slug}-{release.version}.zip"
        response.headers["X-Package-Sha256"] = release.sha256
        response.headers["X-Package-Signature"] = release.signature
        response.set_etag(release.sha256)
        return response.make_conditional(request)

    @hub.get("/api/public-key")
    def public_key():
        return jsonify(store.public_key())

    @hub.get("/media/<slug>/<path:filename>")
    def media(slug, filename):
        if not slug.replace("_", "").isalnum():
            abort(404)
        response = send_from_directory(MEDIA / slug, filename, max_age=3600)
        response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @hub.errorhandler(404)
    def not_found(exc):
        return jsonify({"error": "not found"}), 404

    return hub
