"""A write lock held past the busy time-out is a clear, temporary answer: 503, never the error page."""

import sqlite3

import pytest

from conftest import create_admin, htmx_post, install_sample, make_app, sign_in


@pytest.fixture
def quick_app(tmp_path, migrated_db):
    app = make_app(tmp_path / "instance", migrated_db, DATABASE_BUSY_TIMEOUT=0.2)
    yield app


def test_a_toggle_during_a_long_write_lock_answers_busy_then_works(quick_app):
    app = quick_app
    install_sample(app, "hello")
    create_admin(app)
    client = app.test_client()
    token = sign_in(client)
    other = sqlite3.connect(app.instance_path + "/panel.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holding the write lock
    try:
        fragment = htmx_post(client, "/modules/hello/enable", token=token)
        assert fragment.status_code == 503
        assert fragment.headers["HX-Retarget"] == "#toasts"
        assert "The panel is busy; try again in a moment." in fragment.get_data(as_text=True)

        page = client.post("/modules/hello/enable", data={"csrf_token": token})
        assert page.status_code == 503 and page.headers["Retry-After"] == "5"
        assert "The panel is busy" in page.get_data(as_text=True)
        assert "Something went wrong" not in page.get_data(as_text=True)
    finally:
        other.execute("ROLLBACK")
        other.close()
    done = htmx_post(client, "/modules/hello/enable", token=token)
    assert done.status_code == 200 and 'data-state="enabled"' in done.get_data(as_text=True)
