"""The reference marketplace hub: public API, reproducible signed packages, ETag/304, embedding."""

import base64
import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import time
import zipfile

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from panel.hub import create_hub
from panel.hub.store import ZIP_DATE
from panel.licensing import package_signature
from panel.versions import CORE_VERSION

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def hub(tmp_path):
    return create_hub({"HUB_INSTANCE_PATH": str(tmp_path / "hub")})


def catalog(client) -> dict:
    response = client.get("/api/modules")
    assert response.status_code == 200
    return {m["slug"]: m for m in response.get_json()["modules"]}


def test_catalog_has_the_sample_modules_with_versions_paid_and_requirements(hub):
    modules = catalog(hub.test_client())
    assert {"hello", "notes", "broken", "invoices_pro", "notes_export"} <= set(modules)
    hello = modules["hello"]
    assert [v["version"] for v in hello["versions"]] == ["1.0.0", "1.2.0", "2.0.0"]
    newest = hello["versions"][-1]
    assert Version(CORE_VERSION) not in SpecifierSet(newest["requires_core"])
    assert all(Version(CORE_VERSION) in SpecifierSet(v["requires_core"]) for v in hello["versions"][:-1])
    assert modules["invoices_pro"]["paid"] is True and modules["hello"]["paid"] is False
    assert modules["notes_export"]["requires"] == {"notes": ">=1.0"}
    for field in ("name", "summary", "category", "author", "icon", "docs_url", "sha256", "signature"):
        assert hello[field], field


def test_module_detail_has_screenshots_links_eula_and_changelogs(hub):
    client = hub.test_client()
    detail = client.get("/api/modules/invoices_pro").get_json()
    assert "Licence agreement" in detail["eula"]
    assert len(detail["screenshots"]) == 2 and detail["links"]
    shot = client.get("/" + detail["screenshots"][0]["url"])
    assert shot.status_code == 200 and shot.mimetype == "image/svg+xml"
    assert [v["version"] for v in client.get("/api/changelog/hello").get_json()["versions"]] == \
        ["2.0.0", "1.2.0", "1.0.0"]
    core = client.get("/api/changelog").get_json()
    assert CORE_VERSION in [v["version"] for v in core["versions"]]
    assert client.get("/api/modules/nope").status_code == 404
    assert client.get("/api/modules/hello/9.9.9/download").status_code == 404


def test_packages_are_reproducible_signed_and_carry_the_rewritten_manifest(hub, tmp_path):
    client = hub.test_client()
    entry = catalog(client)["hello"]
    release = entry["versions"][0]
    data = client.get("/" + release["download_url"]).data
    assert hashlib.sha256(data).hexdigest() == release["sha256"] and len(data) == release["size"]

    key = client.get("/api/public-key").get_json()
    assert key["algorithm"] == "ed25519"
    kind, signature = package_signature.parse(release["signature"])  # over the digest, so checked while downloading
    assert kind == package_signature.DIGEST
    Ed25519PublicKey.from_public_bytes(base64.b64decode(key["key"])).verify(
        signature, package_signature.message(hashlib.sha256(data).hexdigest()))

    other = create_hub({"HUB_INSTANCE_PATH": str(tmp_path / "other")})  # another key, another run: same bytes
    assert other.test_client().get("/" + release["download_url"]).data == data
    assert other.test_client().get("/api/public-key").get_json()["key"] != key["key"]

    archive = zipfile.ZipFile(io.BytesIO(data))
    names = archive.namelist()
    assert names == sorted(names) and all(n.startswith("hello/") for n in names)
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    for info in archive.infolist():
        assert info.date_time == ZIP_DATE and info.external_attr >> 16 == 0o100644
    manifest = json.loads(archive.read("hello/module.json"))
    assert manifest["version"] == "1.0.0" and manifest["requires_core"] == release["requires_core"]


def test_catalog_etag_answers_304_with_no_body(hub):
    client = hub.test_client()
    first = client.get("/api/modules")
    assert first.headers["ETag"]
    again = client.get("/api/modules", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    hub.extensions["hub_store"].set_extra([{"slug": "extra_one", "name": "Extra", "version": "1.0"}])
    changed = client.get("/api/modules", headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200 and changed.headers["ETag"] != first.headers["ETag"]


def test_signing_key_is_created_once_private_and_kept(tmp_path):
    folder = tmp_path / "hub"
    first = create_hub({"HUB_INSTANCE_PATH": str(folder)}).test_client().get("/api/public-key").get_json()
    key_file = folder / "hub_signing_key.pem"
    assert key_file.is_file() and (key_file.stat().st_mode & 0o777) == 0o600
    second = create_hub({"HUB_INSTANCE_PATH": str(folder)}).test_client().get("/api/public-key").get_json()
    assert first == second
    custom = tmp_path / "keys" / "store.pem"
    create_hub({"HUB_KEY_PATH": str(custom)}).test_client().get("/api/public-key")
    assert custom.is_file()


def test_embedded_hub_is_served_under_store_without_sign_in(client):
    response = client.get("/store/api/modules")
    assert response.status_code == 200 and response.is_json
    assert client.get("/store/api/public-key").status_code == 200
    assert client.get("/marketplace").status_code == 302  # the panel itself still asks for sign-in


def test_embedded_hub_can_be_switched_off(tmp_path, migrated_db):
    from conftest import make_app

    app = make_app(tmp_path / "plain", migrated_db, EMBEDDED_HUB=False)
    assert app.test_client().get("/store/api/modules").status_code in (302, 404)


def test_hub_runs_alone_with_flask_run(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = dict(os.environ, PANEL_INSTANCE_PATH=str(tmp_path / "alone"))
    process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "panel.hub:create_hub", "run", "--host",
                                "127.0.0.1", "--port", str(port)], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        response = None
        for _ in range(100):  # at most ~10 s
            try:
                response = requests.get(f"http://127.0.0.1:{port}/api/modules", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        assert response is not None and response.status_code == 200
        assert "hello" in {m["slug"] for m in response.json()["modules"]}
        assert (tmp_path / "alone" / "hub_signing_key.pem").is_file()
    finally:
        process.terminate()
        process.wait(timeout=10)
