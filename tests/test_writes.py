"""Writes sent together (panel.runtime.writes): one statement on PostgreSQL, the same rows and the same
request state as writing them one by one, and nothing written when the transaction does not commit."""

import pytest
from flask import g
from sqlalchemy import event, select

from conftest import ON_POSTGRES, install_sample
from panel.extensions import db
from panel.models import AuditEvent, Module, PanelState, utcnow
from panel.runtime import state, writes
from panel.services import audit, modules


@pytest.fixture
def request_context(app):
    install_sample(app, "hello")
    with app.test_request_context("/modules/hello/enable", method="POST"):
        state.counters()  # as a request does first
        yield


def generation() -> int:
    db.session.expire_all()
    return db.session.scalar(select(PanelState.value).where(PanelState.key == "generation")) or 0


def audit_actions() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.actor == "writes-test")))


def hello_state() -> str:
    return db.session.scalar(select(Module.state).where(Module.slug == "hello"))


def statements_sent(app) -> list[str]:
    """What the session's connection sends from now on (on SQLite, also what runs on the driver's
    own cursor, as runtime.plain_rows runs a toggle's writes)."""
    sent = []
    if ON_POSTGRES:
        event.listen(db.engine, "before_cursor_execute", lambda *args: sent.append(args[2]))
    else:
        db.session.connection().connection.driver_connection.set_trace_callback(
            lambda statement: statement.startswith("BEGIN") or sent.append(statement))  # the driver's own BEGIN
    return sent


def toggle_writes(module) -> None:
    modules.write(module, state="enabled", updated_at=utcnow())
    audit.record("writes-test", "enabled", "hello")
    state.bump("generation")


def test_writes_together_are_one_statement_on_postgresql_and_land_as_written_one_by_one(app, request_context):
    before = generation()
    module = modules.read("hello", lock=True)
    sent = statements_sent(app)
    with writes.together():
        toggle_writes(module)
        assert g.get("_panel_moves") is None  # nothing is sent (or moved) before the end of the block
    assert len(sent) == (1 if ON_POSTGRES else 3), sent
    # The request sees its move as a bump outside a block gives it.
    assert state.moves() == [("generation", before + 1)]
    assert state.value("generation") == before + 1 and state.uncommitted()
    db.session.commit()
    assert not state.uncommitted()
    assert (hello_state(), audit_actions(), generation()) == ("enabled", ["enabled"], before + 1)


def test_a_rollback_after_the_block_leaves_nothing_written_and_forgets_the_moves(app, request_context):
    before = generation()
    with writes.together():
        toggle_writes(modules.read("hello", lock=True))
    db.session.rollback()
    assert state.moves() == []
    assert (hello_state(), audit_actions(), generation()) == ("disabled", [], before)


def test_a_failure_inside_the_block_sends_nothing(app, request_context):
    before = generation()
    with pytest.raises(RuntimeError), writes.together():
        toggle_writes(modules.read("hello", lock=True))
        raise RuntimeError("a hook failed")
    assert state.moves() == [] and not state.uncommitted()
    audit.record("writes-test", "enable_failed", "hello")  # what the caller writes instead is sent at once
    db.session.commit()
    assert (hello_state(), audit_actions(), generation()) == ("disabled", ["enable_failed"], before)


def test_a_rollback_inside_the_block_drops_what_it_queued(app, request_context):
    before = generation()
    with writes.together():
        toggle_writes(modules.read("hello", lock=True))
        db.session.rollback()
        audit.record("writes-test", "after_rollback", "hello")
    db.session.commit()
    assert (hello_state(), audit_actions(), generation()) == ("disabled", ["after_rollback"], before)


def test_a_commit_inside_the_block_sends_the_queue_first(app, request_context):
    before = generation()
    with writes.together():
        toggle_writes(modules.read("hello", lock=True))
        db.session.commit()
        audit.record("writes-test", "after_commit", "hello")  # runs at once from here on
        db.session.commit()
    assert (hello_state(), audit_actions(), generation()) == ("enabled", ["enabled", "after_commit"], before + 1)


def test_one_statement_twice_in_a_block_writes_twice_in_order(app, request_context):
    """PostgreSQL would apply only one of two changes to one row in one statement: the second run
    of a statement goes to the next batch."""
    before = generation()
    with writes.together():
        audit.record("writes-test", "first", "hello")
        state.bump("generation")
        state.bump("generation")
        audit.record("writes-test", "second", "hello")
    assert state.moves() == [("generation", before + 1), ("generation", before + 2)]
    db.session.commit()
    assert (audit_actions(), generation()) == (["first", "second"], before + 2)


def test_a_counter_that_never_moved_starts_at_one_inside_a_block(app, request_context):
    with writes.together():
        audit.record("writes-test", "first", "hello")
        state.bump("writes-test-counter")
    assert state.moves() == [("writes-test-counter", 1)]
    db.session.commit()
    assert db.session.get(PanelState, "writes-test-counter").value == 1


def test_a_write_that_leaves_a_column_to_its_python_default_still_gets_it(app, request_context):
    """`updated_at` moves by itself (onupdate) when a write does not set it; PostgreSQL's combined
    statement would leave it NULL, so such a batch runs one statement at a time."""
    with writes.together():
        modules.write(modules.read("hello", lock=True), state="enabled")
        state.bump("generation")
    db.session.commit()
    assert db.session.get(Module, "hello").updated_at is not None
