"""Migrations at start: applied once under a lock however many processes start together; with
MIGRATE_AT_START off, a command on a database without tables says in one line what to run."""

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from conftest import ON_POSTGRES, ROOT
from panel import create_app
from panel.extensions import db

_fresh = itertools.count()
BIN = Path(sys.executable).parent


@pytest.fixture
def empty_database(tmp_path, request, migrated_db):
    """The URL of a database with no tables at all (and the migrated_db fixture, for the PostgreSQL pass)."""
    if ON_POSTGRES:
        server = request.getfixturevalue("postgres_server")
        name = f"empty_{next(_fresh)}"
        server.execute(f"CREATE DATABASE {name}")
        return server.url(name)
    return f"sqlite:///{tmp_path / 'shared.db'}"


def tables(url):
    engine = create_engine(url)
    try:
        names = set(inspect(engine).get_table_names())
        with engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all() \
                if "alembic_version" in names else []
        return names, versions
    finally:
        engine.dispose()


def test_three_nodes_starting_at_once_migrate_once(tmp_path, empty_database):
    """Three processes (each its own instance folder, one database) start at the same moment."""
    starts = [subprocess.Popen([str(BIN / "flask"), "--app", "app", "modules", "list"], cwd=ROOT,
                               env={**os.environ, "PANEL_INSTANCE_PATH": str(tmp_path / f"node{n}"),
                                    "DATABASE_URL": empty_database, "SECRET_KEY": "s"},
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for n in range(3)]
    outputs = [process.communicate(timeout=120)[0] for process in starts]
    assert [process.returncode for process in starts] == [0, 0, 0], outputs
    assert all("No modules installed." in output for output in outputs)
    assert sum("Running upgrade 0001 -> 0002" in output for output in outputs) == 1  # applied by one of them
    names, versions = tables(empty_database)
    assert {"modules", "users", "module_packages"} <= names
    assert len(versions) == 1


def test_without_migrations_at_start_a_command_says_what_to_run(tmp_path, empty_database):
    app = create_app({"INSTANCE_PATH": str(tmp_path / "node"), "SECRET_KEY": "s", "DATABASE_URL": empty_database,
                      "EMBEDDED_HUB": False, "MIGRATE_AT_START": False})
    for args in (["modules", "list"], ["admin", "create", "someone", "--password", "yyyyyyyy"]):
        result = app.test_cli_runner().invoke(args=args)
        assert result.exit_code == 1
        assert result.output.strip() == ("Error: The database has no tables yet: run `flask --app app db upgrade` "
                                         "(or start the panel once).")
    with app.app_context():
        db.engine.dispose()
    assert "modules" not in tables(empty_database)[0]


def test_starting_the_panel_migrates_a_fresh_database(tmp_path, empty_database):
    app = create_app({"INSTANCE_PATH": str(tmp_path / "node"), "SECRET_KEY": "s", "DATABASE_URL": empty_database,
                      "EMBEDDED_HUB": False})
    result = app.test_cli_runner().invoke(args=["admin", "create", "someone", "--password", "yyyyyyyy"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        db.engine.dispose()


def test_the_cheap_start_up_check_reads_the_same_heads_as_alembic(app):
    from panel.services import schema

    with app.app_context():
        assert schema.script_heads() == schema._heads()
        assert not schema.pending()
