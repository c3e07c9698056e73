"""A write lock held past the busy time-out is a clear, temporary answer: 503, never the error page."""

import contextlib
import sqlite3

import pytest
import sqlalchemy

import panel
from conftest import ON_POSTGRES, create_admin, htmx_post, install_sample, make_app, sign_in


@pytest.fixture
def quick_app(tmp_path, migrated_db):
    app = make_app(tmp_path / "instance", migrated_db, DATABASE_BUSY_TIMEOUT=0.2)
    yield app


@contextlib.contextmanager
def write_lock_held_elsewhere(app):
    """Another process holding the lock a toggle needs: SQLite's write lock, or PostgreSQL's row lock."""
    if ON_POSTGRES:
        engine = sqlalchemy.create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
        with engine.connect() as other:
            other.execute(sqlalchemy.text("SELECT * FROM panel_state FOR UPDATE"))
            yield
            other.rollback()
        engine.dispose()
        return
    other = sqlite3.connect(app.instance_path + "/panel.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_a_toggle_during_a_long_write_lock_answers_busy_then_works(quick_app):
    app = quick_app
    install_sample(app, "hello")
    create_admin(app)
    client = app.test_client()
    token = sign_in(client)
    with write_lock_held_elsewhere(app):
        fragment = htmx_post(client, "/modules/hello/enable", token=token)
        assert fragment.status_code == 503
        assert fragment.headers["HX-Retarget"] == "#toasts"
        assert "The panel is busy; try again in a moment." in fragment.get_data(as_text=True)

        page = client.post("/modules/hello/enable", data={"csrf_token": token})
        assert page.status_code == 503 and page.headers["Retry-After"] == "5"
        assert "The panel is busy" in page.get_data(as_text=True)
        assert "Something went wrong" not in page.get_data(as_text=True)
    done = htmx_post(client, "/modules/hello/enable", token=token)
    assert done.status_code == 200 and 'data-state="enabled"' in done.get_data(as_text=True)


@pytest.mark.skipif(not ON_POSTGRES, reason="a SQLite file never drops a connection; runs in make test's PostgreSQL pass")
def test_a_connection_the_server_dropped_while_idle_is_replaced_before_use(app, admin_client, monkeypatch):
    """No ping per request (a round trip each), yet a database restart costs no failed page: a
    connection that sat idle is tested before use and replaced when the server dropped it."""
    assert admin_client.get("/modules").status_code == 200
    engine = sqlalchemy.create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    with engine.connect() as other:  # what a server restart does to every connection the panel holds
        other.execute(sqlalchemy.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                      "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
    engine.dispose()
    monkeypatch.setattr(panel, "PING_AFTER_IDLE_SECONDS", 0.0)
    assert admin_client.get("/modules").status_code == 200
