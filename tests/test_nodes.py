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


def test_a_node_compiles_the_code_it_unpacks_for_its_own_folder(nodes, monkeypatch):
    """Each node's compiled files name its own paths (a traceback on B names B's files), and B's
    first page of the module reads them instead of compiling."""
    from panel.runtime import importer
    from panel.runtime.bytecode import cached_code

    (a, b), (client_a, client_b) = nodes
    install_sample(a, "hello")
    htmx_post(client_a, "/modules/hello/enable")
    client_b.get("/modules")  # B unpacks it
    source = modules_folder(b) / "hello" / "__init__.py"
    assert cached_code(str(source), source.read_bytes()) is not None

    def refuse(code, path, *args, **kwargs):
        raise AssertionError(f"{path} was compiled again")
    monkeypatch.setattr(importer, "compile", refuse, raising=False)
    assert client_b.get("/m/hello/").status_code == 200


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


def test_a_module_installed_before_packages_were_kept_is_stored_once_from_its_folder_and_followed(nodes, tmp_path,
                                                                                               migrated_db):
    from sqlalchemy import delete, func, select

    from panel.installer import backfill

    (a, b), (client_a, client_b) = nodes
    install_sample(a, "hello")
    with a.app_context():  # as before migration 0005: the files on A's disk, no package in the database
        db.session.execute(delete(ModulePackage))
        db.session.commit()
    client_b.get("/modules")
    assert not (modules_folder(b) / "hello").exists()  # B has nothing to unpack, and no files to store

    restarted = make_app(tmp_path / "a", migrated_db, EMBEDDED_HUB=False,
                         DATABASE_URL=a.config["SQLALCHEMY_DATABASE_URI"])  # A after the upgrade
    restarted.test_client().get("/login")
    with restarted.app_context():
        rows = db.session.execute(select(ModulePackage.version, ModulePackage.sha256, ModulePackage.data)).all()
        assert [(version, sha256) for version, sha256, _ in rows] == [("1.2.0", hashlib.sha256(rows[0][2]).hexdigest())]
        assert backfill.store_missing() == []  # once: nothing left to store
        assert db.session.scalar(select(func.count()).select_from(ModulePackage)) == 1
    client_b.get("/modules")  # B follows as after an install
    for name in ("module.json", "__init__.py"):
        assert (modules_folder(b) / "hello" / name).read_bytes() == (modules_folder(a) / "hello" / name).read_bytes()
    htmx_post(client_b, "/modules/hello/enable")
    assert client_b.get("/m/hello/").status_code == 200
    with restarted.app_context():
        db.engine.dispose()


def test_a_folder_that_holds_another_version_than_installed_is_not_stored(nodes):
    from sqlalchemy import delete

    from panel.installer import backfill
    from panel.models import Module

    (a, b), _ = nodes
    install_sample(a, "hello")
    with a.app_context():
        db.session.execute(delete(ModulePackage))
        db.session.get(Module, "hello").version = "7.0.0"  # the database says another version than the folder
        db.session.commit()
        assert backfill.store_missing() == []
        assert db.session.query(ModulePackage).count() == 0
