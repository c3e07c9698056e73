"""What a signed-in administrator waits on the database for, per request, on the database this run
uses: on PostgreSQL each round trip to the server (BEGIN and ROLLBACK included, counted on the wire
with libpq's trace), on SQLite each statement the driver runs (its own BEGIN included).

A page that only reads opens no transaction (READ COMMITTED gives each statement its own snapshot
either way); a request that writes still writes all or nothing.
"""

import os
import re
import tempfile

import pytest
from flask import g
from sqlalchemy import event, select, text

from conftest import ON_POSTGRES, create_admin, htmx_post, install_sample, sign_in
from panel.extensions import db
from panel.models import AuditEvent, LicenseState
from panel.runtime import state
from panel.runtime.transactions import needs_transaction
from panel.services import audit, licenses

# psycopg prepares a statement the sixth time a connection runs it, which costs one more round trip
# that once; a route run this many times first is measured as it runs from then on (a toggle's
# first answer counts the modules, the next ones derive the counts: one more run for those).
WARM_UP = 16  # even: a toggle measured after it switches the same way as the first


class Wire:
    """Everything the app's new connections send from now on."""

    def __init__(self, app):
        self.sent: list[str] = []  # SQLite: the statements
        self.fd, self.path = tempfile.mkstemp(prefix="pg-trace-")  # PostgreSQL: libpq's trace
        with app.app_context():
            db.engine.dispose()  # every connection from here on is a traced one
            event.listen(db.engine, "connect", self._connected)

    def _connected(self, dbapi_connection, connection_record):
        if ON_POSTGRES:
            from psycopg import pq

            dbapi_connection.pgconn.trace(self.fd)
            dbapi_connection.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        else:
            dbapi_connection.set_trace_callback(self.sent.append)

    def clear(self) -> None:
        self.sent.clear()
        os.ftruncate(self.fd, 0)
        os.lseek(self.fd, 0, os.SEEK_SET)

    def log(self) -> str:
        """PostgreSQL: what libpq traced since `clear()`, message by message."""
        with open(self.path, encoding="utf-8", errors="replace") as fh:
            return fh.read()

    def round_trips(self) -> int:
        """PostgreSQL: answers the server ended (one per round trip); SQLite: statements run."""
        if ON_POSTGRES:
            return len(re.findall(r"^B\t\d+\tReadyForQuery\t", self.log(), re.MULTILINE))
        return len(self.sent)

    def commands(self, name: str) -> int:
        """How many BEGIN, COMMIT or ROLLBACK were sent."""
        if ON_POSTGRES:
            return len(re.findall(rf'^F\t\d+\tQuery\t "{name}"', self.log(), re.MULTILINE))
        return sum(1 for sent in self.sent if sent.strip().upper().startswith(name))

    def close(self) -> None:
        os.close(self.fd)
        os.unlink(self.path)


@pytest.fixture
def wire(app, admin_client):
    found = Wire(app)
    yield found
    found.close()


@pytest.fixture
def steady_modules(app):
    """Two installed modules, and a modules folder that last changed a minute ago (a folder that has
    just changed is looked at again on each page, which is not the steady state)."""
    install_sample(app, "hello")
    install_sample(app, "notes")
    folder = app.config["MODULES_PATH"]
    a_minute_ago = os.stat(folder).st_mtime_ns - 60 * 10**9
    os.utime(folder, ns=(a_minute_ago, a_minute_ago))


def measured(wire, call):
    for _ in range(WARM_UP):
        assert call().status_code == 200
    wire.clear()
    response = call()
    assert response.status_code == 200
    return response


def test_a_steady_modules_page_makes_two_round_trips_and_opens_no_transaction(admin_client, wire, steady_modules):
    measured(wire, lambda: admin_client.get("/modules"))
    # The counters with the license row; the page's rows with the counts.
    assert wire.round_trips() <= 2, wire.sent or wire.log()
    assert wire.commands("BEGIN") == 0 and wire.commands("ROLLBACK") == 0


def test_the_license_page_reads_the_license_in_the_counters_statement(admin_client, wire):
    html = measured(wire, lambda: admin_client.get("/license")).get_data(as_text=True)
    assert 'name="key"' in html
    assert wire.round_trips() == 1, wire.sent or wire.log()


def test_a_toggle_is_one_transaction_and_its_answer_reads_outside_it(admin_client, wire, steady_modules):
    turns = iter(["enable", "disable"] * WARM_UP)
    response = measured(wire, lambda: htmx_post(admin_client, f"/modules/hello/{next(turns)}"))
    assert 'data-state="enabled"' in response.get_data(as_text=True)
    assert wire.commands("BEGIN") == 1 and wire.commands("COMMIT") == 1 and wire.commands("ROLLBACK") == 0
    # Counters and license; BEGIN, the row locked with what the catalog and the update policy say of
    # it, then its row, audit entry and counter written in one statement (runtime.writes), COMMIT.
    # Nothing after: the card, its sidebar entry and the counts come from what was read and written.
    assert wire.round_trips() <= (5 if ON_POSTGRES else 7), wire.sent or wire.log()  # SQLite: one by one
    wire.clear()
    assert 'data-state="disabled"' in htmx_post(admin_client, "/modules/hello/disable").get_data(as_text=True)
    # The same: the enabled modules that could need it are read with the lock (PostgreSQL).
    assert wire.round_trips() <= (5 if ON_POSTGRES else 8), wire.sent or wire.log()


def test_a_page_after_another_workers_toggle_reads_the_sidebar_with_the_counters(app, admin_client, wire,
                                                                                steady_modules):
    """On PostgreSQL the sidebar's entries come in the counters' statement when they moved since the
    worker kept its sidebar: a busy panel's pages make no extra round trip for it."""
    from panel import create_app

    other = create_app({"TESTING": True, "INSTANCE_PATH": app.instance_path, "SECRET_KEY": "test-secret"})
    other_client = other.test_client()
    other_client.csrf = sign_in(other_client)
    turns = iter(["enable", "disable"] * (WARM_UP + 1))

    def page_after_a_toggle_elsewhere():
        assert htmx_post(other_client, f"/modules/hello/{next(turns)}").status_code == 200
        return admin_client.get("/marketplace")
    html = measured(wire, page_after_a_toggle_elsewhere).get_data(as_text=True)
    assert 'id="sidebar-module-hello"' in html  # the last turn enabled it, on the other worker
    # PostgreSQL: the counters with the license row and the sidebar; SQLite: the sidebar read again.
    assert wire.round_trips() <= (1 if ON_POSTGRES else 2), wire.sent or wire.log()
    wire.clear()
    assert 'id="sidebar-module-hello"' in admin_client.get("/marketplace").get_data(as_text=True)
    assert wire.round_trips() == 1, wire.sent or wire.log()  # nothing moved: the sidebar is kept


def test_a_request_that_fails_after_writing_leaves_nothing_written(app, client):
    """The writes of one request still commit together or not at all, though its reads ran outside
    any transaction: the transaction begins at the first write."""
    @app.get("/test-two-writes-then-a-failure")
    def two_writes_then_a_failure():
        db.session.scalars(select(AuditEvent.id)).all()  # a read first, outside the transaction
        audit.record("test", "first_write")
        audit.record("test", "second_write")
        raise RuntimeError("the request fails before its commit")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    create_admin(app)
    sign_in(client)
    assert client.get("/test-two-writes-then-a-failure").status_code == 500
    with app.app_context():
        written = db.session.scalars(select(AuditEvent.action).where(AuditEvent.actor == "test")).all()
    assert written == []


def test_a_license_written_during_a_request_is_read_back_as_written(app):
    with app.test_request_context("/license"):
        licenses.installation_id()
        db.session.commit()
        licenses.forget()
        state.counters()  # reads the license row along with the counters
        licenses.save(last_error="unreachable")
        assert licenses.current().last_error == "unreachable"
        assert db.session.get(LicenseState, state.LICENSE_ROW_ID).last_error == "unreachable"


def test_the_license_row_is_read_from_the_database_on_each_request(app, admin_client):
    """Altered by SQL between two requests: the next request sees it (nothing kept per process)."""
    with app.test_request_context("/license"):
        licenses.installation_id()
        db.session.commit()
    with app.app_context():
        db.session.execute(text("UPDATE license_state SET last_error = 'store_down'"))
        db.session.commit()
    with app.test_request_context("/license"):
        state.counters()
        assert licenses.current().last_error == "store_down"
        assert g.get("_panel_license") is not None


@pytest.mark.parametrize("statement, begins", [
    ("SELECT modules.slug FROM modules", False),
    ("  select 1", False),
    ("SELECT modules.slug FROM modules WHERE modules.slug = %(slug)s FOR UPDATE", True),
    ("SELECT catalog_cache.id FROM catalog_cache FOR NO KEY UPDATE SKIP LOCKED", True),
    ("SELECT id FROM jobs FOR SHARE", True),
    ("SELECT pg_advisory_xact_lock(1)", True),
    ("UPDATE modules SET state = 'enabled'", True),
    ("INSERT INTO audit_events (actor) VALUES ('x')", True),
    ("DELETE FROM user_sessions", True),
    ("WITH moved AS (UPDATE panel_state SET value = value + 1 RETURNING value) SELECT value FROM moved", True),
    ("SAVEPOINT sa_savepoint_1", True),
])
def test_a_transaction_begins_before_anything_that_writes_or_locks(statement, begins):
    assert needs_transaction(statement) is begins
