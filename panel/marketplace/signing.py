"""Package signatures: the store's Ed25519 public key, pinned in the instance folder on first use."""

from __future__ import annotations  # `ed25519.Ed25519PublicKey` in a signature must not import cryptography

import base64
import binascii
import json
import os
from functools import lru_cache
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l

from ..errors import PackageError
from ..extensions import lazy_module
from ..licensing import package_signature
from .client import StoreClient, StoreError

# Imported by the first key or signature checked (7 MB a worker without paid modules does without).
crypto_exceptions = lazy_module("cryptography.exceptions")
ed25519 = lazy_module("cryptography.hazmat.primitives.asymmetric.ed25519")

PIN_FILE = "marketplace_keys.json"


def _pins_path() -> str:
    return os.path.join(current_app.instance_path, PIN_FILE)


_pins_seen: dict[str, tuple] = {}  # path -> (the file's stat, its pins): read again only once it changed


def _read_pins() -> dict:
    """The pins as the file holds them now (one stat: every request of a licensed panel asks for the
    key). The dict is shared: copy it before changing it."""
    path = _pins_path()
    try:
        stat = os.stat(path)
        mark = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        seen = _pins_seen.get(path)
        if seen is not None and seen[0] == mark:
            return seen[1]
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return {}
    pins = data if isinstance(data, dict) else {}
    _pins_seen[path] = (mark, pins)
    return pins


def _write_pins(pins: dict) -> None:
    path = Path(_pins_path())
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(pins, fh, indent=2, sort_keys=True)
    tmp.replace(path)


@lru_cache(maxsize=16)
def _decode_key(text) -> ed25519.Ed25519PublicKey:
    """The key of a pin; the same text gives the same key object (license checks run on every request)."""
    try:
        raw = base64.b64decode(text, validate=True)
        return ed25519.Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError, TypeError):
        raise PackageError(_l("The marketplace published a signing key the panel cannot read.")) from None


def known_key(base_url: str) -> ed25519.Ed25519PublicKey | None:
    """The key already pinned for the store at `base_url`, without any request; None when none is."""
    pinned = _read_pins().get(base_url)
    return _decode_key(pinned) if pinned else None


def pinned_key(client: StoreClient) -> ed25519.Ed25519PublicKey | None:
    """The key pinned for this store; fetched and pinned on first use. None when the store signs nothing."""
    pins = dict(_read_pins())
    if client.base_url in pins:
        return _decode_key(pins[client.base_url])
    try:
        result = client.get_json("api/public-key")
    except StoreError as exc:
        if exc.status == 404:
            return None
        raise
    data = result.data if isinstance(result.data, dict) else {}
    if data.get("algorithm") != "ed25519":
        raise PackageError(_l("The marketplace signs with an algorithm the panel does not accept."))
    key = _decode_key(data.get("key"))
    pins[client.base_url] = data["key"]
    _write_pins(pins)
    return key


def verify(path: Path, signature: str, client: StoreClient, sha256: str) -> bool:
    """Check the package's signature; True when checked, False when the store signs nothing.

    `sha256` is the digest of the downloaded bytes, computed while they streamed in: a signature
    over the digest (the current format, `panel.licensing.package_signature`) is checked from it
    without reading the package again; only a legacy signature over the whole bytes reads it."""
    key = pinned_key(client)
    if not signature:
        if key is not None:
            raise PackageError(_l("The package is not signed although the marketplace signs its packages."))
        return False
    if key is None:
        raise PackageError(_l("The package is signed but the marketplace publishes no key to check it."))
    try:
        kind, raw = package_signature.parse(signature)
        signed = package_signature.message(sha256) if kind == package_signature.DIGEST else Path(path).read_bytes()
        key.verify(raw, signed)
    except (crypto_exceptions.InvalidSignature, ValueError):
        raise PackageError(_l("The package's signature does not match the marketplace's key; it was not installed.")) from None
    return True
