"""Writes sent together: on PostgreSQL several INSERT and UPDATE statements as one statement.

A change usually writes a few rows that do not depend on one another: a toggle writes its module's
row, an audit entry and a counter. Through SQLAlchemy on psycopg each statement costs a round trip,
~0.1–0.2 ms of the worker's CPU and PostgreSQL's own per-statement work. Inside `together()`,
`execute()` queues the statement; at the end of the block PostgreSQL runs the queue as one statement,
each write a data-modifying CTE (`WITH w0 AS (UPDATE …), w1 AS (INSERT …) SELECT <their RETURNING>`),
and SQLite, which has no DML in a CTE and where a statement costs no round trip, runs them one by one
in order. Then, either way, each write's `then` is called in order with the value its RETURNING gave
(or None). Outside a block `execute()` runs the statement at once and calls `then` at once.

What may go in one block (PostgreSQL runs the CTEs of one statement on one snapshot, in no set
order, none seeing another's changes): writes that do not depend on one another, none writing a row
another writes (a statement queued a second time is sent in the next batch, so two runs of one
statement never share one), each RETURNING giving at most one row, whose first column `then` gets.
Nothing read inside the block sees its queued writes; keep only the writes in it. A rollback drops
the queue; a commit inside the block sends it first and ends the queuing. A write that leaves a
column to a Python-side default or onupdate (`updated_at=utcnow`) makes its batch run one by one:
SQLAlchemy computes those only for a statement run by itself.
"""

from collections.abc import Callable
from contextlib import contextmanager

from sqlalchemy import bindparam, event, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import BindParameter

from ..extensions import db
from . import plain_rows

_QUEUE = "panel_writes_queued"
# Combined statements by shape (each write's statement and parameter names), built once: a statement
# built per call is compiled-cache-keyed per call. The shapes are the few the code writes together.
_COMBINED: dict[tuple, tuple] = {}
_MAX_SHAPES = 64


@contextmanager
def together(session: Session | None = None):
    """Send the writes `execute`d in this block together at its end (inside another block: at its end)."""
    session = session or db.session()
    if _QUEUE in session.info:
        yield
        return
    queue = session.info[_QUEUE] = []
    try:
        yield
    finally:
        session.info.pop(_QUEUE, None)
    _send(session, queue)


def execute(statement, params: dict, then: Callable | None = None, session: Session | None = None) -> None:
    """Run an INSERT or UPDATE with `params` in the session's transaction, now or at the end of the
    `together()` block it is in; `then(value)` gets the first column of its RETURNING row (or None)."""
    session = session or db.session()
    queue = session.info.get(_QUEUE)
    if queue is None:
        _run_one(session, statement, params, then)
        return
    if any(queued is statement for queued, _, _ in queue):
        _send(session, _taken(queue))
    queue.append((statement, params, then))


def _taken(queue: list) -> list:
    taken = queue[:]
    queue.clear()
    return taken


def _run_one(session: Session, statement, params: dict, then: Callable | None) -> None:
    value = plain_rows.run(session.connection(), statement, params)
    if then is not None:
        then(value)


def _send(session: Session, queued: list) -> None:
    dialect = session.connection().dialect
    combined, returning = None, ()
    if len(queued) > 1 and dialect.name == "postgresql":
        combined, returning = _combined(tuple((statement, tuple(params)) for statement, params, _ in queued), dialect)
    if combined is None:
        for statement, params, then in queued:
            _run_one(session, statement, params, then)
        return
    values = {f"w{i}_{key}": value for i, (_, params, _) in enumerate(queued) for key, value in params.items()}
    returned = iter(session.connection().execute(combined, values).one())
    for (_, _, then), returns in zip(queued, returning, strict=True):
        value = next(returned) if returns else None
        if then is not None:
            then(value)


def _combined(shape: tuple, dialect) -> tuple:
    """(the statement running every write of `shape` as a CTE, whether each has a RETURNING column),
    or (None, ()) when one of them takes a Python-side default it does not set (see the docstring)."""
    found = _COMBINED.get(shape)
    if found is None:
        if len(_COMBINED) >= _MAX_SHAPES:
            _COMBINED.clear()
        if any(_takes_python_defaults(statement, keys, dialect) for statement, keys in shape):
            found = _COMBINED[shape] = (None, ())
            return found
        ctes, columns, returning = [], [], []
        for i, (statement, keys) in enumerate(shape):
            cte = _renamed(statement, keys, f"w{i}_").cte(f"w{i}")
            ctes.append(cte)
            returning.append(bool(statement.exported_columns))
            if returning[-1]:
                columns.append(select(cte.c[0]).scalar_subquery())
        combined = select(*columns) if columns else select(literal(1))
        found = _COMBINED[shape] = (combined.add_cte(*ctes), tuple(returning))
    return found


def _takes_python_defaults(statement, keys: tuple, dialect) -> bool:
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))
    return bool(compiled.insert_prefetch or compiled.update_prefetch)


def _renamed(statement, keys: tuple, prefix: str):
    """`statement` with its parameters `keys` renamed `<prefix><key>`: the bound parameters it names
    itself, and the columns the others set (as `execute(statement, {column: value})` sets them)."""
    own = {element.key for element in visitors.iterate(statement) if isinstance(element, BindParameter)}
    columns = [key for key in keys if key not in own]
    if columns:  # before the renaming: SQLAlchemy cannot add values to a traversed copy that has some
        statement = statement.values({key: bindparam(prefix + key) for key in columns})

    def rename(element):
        if isinstance(element, BindParameter) and element.key in keys and element.key in own:
            return bindparam(prefix + element.key, type_=element.type)
        return None

    return visitors.replacement_traverse(statement, {}, rename)


@event.listens_for(Session, "before_commit")
def _send_before_commit(session) -> None:
    queue = session.info.pop(_QUEUE, None)  # and what the block writes after the commit runs at once
    if queue:
        _send(session, _taken(queue))


@event.listens_for(Session, "after_rollback")
def _drop_after_rollback(session) -> None:
    queue = session.info.get(_QUEUE)
    if queue:
        queue.clear()
