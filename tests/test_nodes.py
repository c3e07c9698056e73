"""Several nodes on one database, each with its own instance folder: the module code a node installs
reaches the others' disks before they serve it, and an uninstall or a rollback is followed the same way."""

import hashlib
import json

import pytest
from sqlalchemy import update

from conftest import create_admin, htmx_post, install_sample, make_app, sign_in
from panel.extensions import db
from panel.models import ModulePackage


@pytest.fixture
def nodes(tmp_path, migrated_db):
    first = make_app(tmp_path / "a", migrated_db, EMBEDDED_HUB=False)
    second = make_app(tmp_path / "b", migrated_db, EMBEDDED_HUB=False,
                      DATABASE_URL=first.config["SQLALCHEMY_DATABASE_URI"])
    create_admin(first)
    clients = []
    for app in (first, second):
        client = app.test_client()
        client.csrf = sign_in(client)
        clients.append(client)
    yield (first, second), clients
    for app in (first, second):
        with app.app_context():
            db.engine.dispose()


def modules_folder(app):
    from pathlib import Path

    return Path(app.config["MODULES_PATH"])


def test_a_module_installed_on_one_node_is_served_by_the_other(nodes):
    (a, b), (client_a, client_b) = nodes
    install_sample(a, "hello")
    assert not (modules_folder(b) / "hello").exists()
    assert htmx_post(client_b, "/modules/hello/enable").status_code == 200  # B unpacked it first
    assert (modules_folder(b) / "hello" / "__init__.py").is_file()
    assert client_a.get("/m/hello/").status_code == 200
    assert client_b.get("/m/hello/").status_code == 200
    htmx_post(client_a, "/modules/hello/disable")
    assert client_b.get("/m/hello/").status_code == 404


def test_an_uninstall_on_one_node_removes_the_code_from_the_other(nodes):
    (a, b), (client_a, client_b) = nodes
    install_sample(a, "hello")
    client_b.get("/modules")
    assert (modules_folder(b) / "hello").is_dir()
    htmx_post(client_b, "/modules/hello/uninstall")
    page = client_a.get("/modules").get_data(as_text=True)
    assert not (modules_folder(a) / "hello").exists()
    assert 'data-module="hello"' not in page


def test_a_node_that_joins_later_catches_up(tmp_path, migrated_db):
    a = make_app(tmp_path / "a", migrated_db, EMBEDDED_HUB=False)
    install_sample(a, "hello")
    install_sample(a, "notes")
    late = make_app(tmp_path / "late", migrated_db, EMBEDDED_HUB=False,
                    DATABASE_URL=a.config["SQLALCHEMY_DATABASE_URI"])
    late.test_client().get("/login")
    assert {p.name for p in modules_folder(late).iterdir()} >= {"hello", "notes"}


def test_a_package_that_does_not_match_its_sha256_is_not_unpacked(nodes):
    (a, b), (client_a, client_b) = nodes
    install_sample(a, "hello")
    with a.app_context():
        row = db.session.get(ModulePackage, ("hello", "1.0.0")) or db.session.query(ModulePackage).first()
        assert row.sha256 == hashlib.sha256(row.data).hexdigest()
        db.session.execute(update(ModulePackage).values(data=row.data[:-10] + b"x" * 10))
        db.session.commit()
    client_b.get("/modules")
    assert not (modules_folder(b) / "hello").exists()


def test_an_update_and_its_rollback_are_followed_by_the_other_node(nodes, tmp_path):
    from installer_kit import package

    from panel.installer import install_package, rollback

    (a, b), (client_a, client_b) = nodes
    install_sample(a, "hello")
    client_b.get("/modules")
    first = json.loads((modules_folder(b) / "hello" / "module.json").read_text())["version"]
    with a.app_context():
        install_package(package(tmp_path, version="9.1.0"), "test")
    client_b.get("/modules")
    assert json.loads((modules_folder(b) / "hello" / "module.json").read_text())["version"] == "9.1.0"
    with a.app_context():
        rollback("hello", "test")
    client_b.get("/modules")
    assert json.loads((modules_folder(b) / "hello" / "module.json").read_text())["version"] == first
