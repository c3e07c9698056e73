"""An install reads its package from disk at most twice, download and signature included (issue 14).

Reads are counted by wrapping `open` (builtins and io, which pathlib uses) for the package's file:
every open for reading and every byte read through it.
"""

import base64
import builtins
import hashlib
import io
import json
import os
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from installer_kit import package

from conftest import htmx_post
from panel.errors import PackageError
from panel.extensions import db
from panel.installer import install_package
from panel.licensing import package_signature
from panel.marketplace import signing
from panel.models import Module, ModulePackage
from panel.services import jobs

PAYLOAD = 1024 * 1024  # incompressible, so the package's size is mostly this


class CountingFile:
    """A file object that adds every byte read to `reads`."""

    def __init__(self, fh, reads):
        self._fh, self._reads = fh, reads

    def read(self, *args):
        data = self._fh.read(*args)
        self._reads["bytes"] += len(data)
        return data

    def readinto(self, buffer):
        count = self._fh.readinto(buffer)
        self._reads["bytes"] += count or 0
        return count

    def __getattr__(self, name):
        return getattr(self._fh, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._fh.__exit__(*exc)


@pytest.fixture
def package_reads(monkeypatch):
    """{"opens", "bytes"} of reads from files for which `reads["match"](path)` is true."""
    reads = {"opens": 0, "bytes": 0, "match": lambda path: False}
    real_open = builtins.open

    def counting_open(file, mode="r", *args, **kwargs):
        fh = real_open(file, mode, *args, **kwargs)
        if isinstance(file, (str, os.PathLike)) and "r" in mode and "+" not in mode and reads["match"](Path(file)):
            reads["opens"] += 1
            return CountingFile(fh, reads)
        return fh

    monkeypatch.setattr(builtins, "open", counting_open)
    monkeypatch.setattr(io, "open", counting_open)
    return reads


def big_package(tmp_path, **changes) -> Path:
    return package(tmp_path, extra={"static/blob.bin": os.urandom(PAYLOAD)}, **changes)


def test_an_installed_package_is_read_once_and_kept_for_the_other_nodes(app, tmp_path, package_reads):
    path = big_package(tmp_path)
    size = path.stat().st_size
    package_reads["match"] = lambda p: p == path
    with app.app_context():
        install_package(path, "test")
        kept = db.session.get(ModulePackage, ("hello", "1.2.0"))
        assert kept.data == path.read_bytes() and kept.sha256 == hashlib.sha256(kept.data).hexdigest()
    assert package_reads["opens"] - 1 <= 2 and package_reads["bytes"] - size <= 2 * size  # minus the check above
    assert (Path(app.config["MODULES_PATH"]) / "hello" / "static" / "blob.bin").stat().st_size == PAYLOAD


def test_an_upload_validated_then_confirmed_reads_its_package_at_most_twice(app, admin_client, tmp_path,
                                                                             package_reads):
    path = big_package(tmp_path)
    data = path.read_bytes()
    uploads = Path(app.config["STAGING_PATH"]) / "uploads"
    package_reads["match"] = lambda p: p.parent == uploads
    response = admin_client.post("/modules/upload", data={"package": (io.BytesIO(data), "pkg.zip"),
                                                          "csrf_token": admin_client.csrf},
                                 content_type="multipart/form-data")
    token = re.search(r"/modules/upload/([0-9a-f]{32})/install", response.get_data(as_text=True)).group(1)
    assert package_reads["bytes"] < 1.5 * len(data)  # the report: hashed, then its central directory read
    assert htmx_post(admin_client, f"/modules/upload/{token}/install").status_code == 204
    assert package_reads["bytes"] < 2.5 * len(data)  # then the install: one read more, not two
    with app.app_context():
        assert db.session.get(Module, "hello").version == "1.2.0"


def test_a_marketplace_install_reads_the_download_at_most_twice_signature_included(app, admin_client, hub_server,
                                                                                 package_reads):
    cache = Path(app.config["CACHE_PATH"])
    package_reads["match"] = lambda p: p.parent == cache and p.name.startswith("job-") and p.suffix == ".zip"
    assert htmx_post(admin_client, "/marketplace/refresh").status_code == 200
    response = htmx_post(admin_client, "/marketplace/notes/install", {"version": "1.0.0"})
    assert response.status_code == 200
    with app.app_context():
        jobs.wait_for_jobs(30)
        module = db.session.get(Module, "notes")
        assert module is not None and module.version == "1.0.0"
        size = db.session.get(ModulePackage, ("notes", "1.0.0")).size
    assert 1 <= package_reads["opens"] <= 2 and package_reads["bytes"] <= 2 * size


class FakeStore:
    base_url = "http://store.invalid/"


def pin(app, private_key) -> None:
    raw = private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    (Path(app.instance_path) / signing.PIN_FILE).write_text(json.dumps({FakeStore.base_url:
                                                                        base64.b64encode(raw).decode()}))


def test_a_digest_signature_is_checked_without_reading_and_a_legacy_one_still_passes(app, tmp_path, package_reads):
    path = big_package(tmp_path)
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    key = Ed25519PrivateKey.generate()
    package_reads["match"] = lambda p: p == path
    with app.app_context():
        pin(app, key)
        assert signing.verify(path, package_signature.sign(key, digest), FakeStore(), digest)
        assert package_reads["opens"] == 0  # checked from the digest the download computed
        legacy = base64.b64encode(key.sign(data)).decode()  # a store that signs the whole bytes
        assert signing.verify(path, legacy, FakeStore(), digest)
        assert package_reads["opens"] == 1
        other = hashlib.sha256(b"another package").hexdigest()
        for bad in (package_signature.sign(key, other), package_signature.sign(Ed25519PrivateKey.generate(), digest),
                    base64.b64encode(key.sign(data + b"x")).decode(), package_signature.PREFIX + "not base64!"):
            with pytest.raises(PackageError, match="signature does not match"):
                signing.verify(path, bad, FakeStore(), digest)
