"""On PostgreSQL, a request's transaction begins just before its first write, as SQLite's driver does.

psycopg opens a transaction (a BEGIN round trip) before a connection's first statement and the pool
closes it (a ROLLBACK round trip) when the request hands the connection back, even when the request
only read. Under READ COMMITTED every statement reads its own snapshot anyway, in a transaction or
not, so a read outside one sees exactly what it would have seen inside: a GET that only reads saves
two of its four to six round trips, and a POST saves the BEGIN and ROLLBACK of what it reads after
its commit.

So a connection the panel takes during a request is left in the driver's autocommit mode, and the
transaction is begun (BEGIN, in the same request) just before the first statement that may write
or lock: anything but a plain SELECT, or a SELECT … FOR UPDATE/SHARE or one taking a
transaction-scoped advisory lock. From there to the commit or rollback everything runs in that one
transaction, as before. psycopg's commit and rollback do nothing when no transaction was begun.
This is what the panel already does on SQLite (Python's sqlite3 begins before INSERT, UPDATE,
DELETE and REPLACE), so both databases follow one rule. Outside a request (the command line, jobs,
start-up) connections keep the driver's usual eager BEGIN.

A statement sent through the driver's own connection (`driver_connection`, e.g. COPY) does not pass
here: run it after a statement through SQLAlchemy has begun the transaction (catalog_rows does, after
its DELETE).
"""

import re

from flask import has_request_context
from sqlalchemy import event
from sqlalchemy.engine import Engine

_BEGIN_BEFORE_WRITE = "panel_begin_before_write"
_PLAIN_READ = re.compile(r"\s*SELECT\b", re.IGNORECASE)
_LOCKS = re.compile(r"\bFOR\s+(?:NO\s+KEY\s+UPDATE|UPDATE|KEY\s+SHARE|SHARE)\b|_XACT_LOCK", re.IGNORECASE)


def needs_transaction(statement: str) -> bool:
    """Whether `statement` may write or take a lock that lasts until the commit. Kept per statement
    text: the panel runs a few hundred distinct statements, each compiled once, and scanning the
    longest of them on every run was a few percent of a busy worker's CPU."""
    found = _NEEDS.get(statement)
    if found is None:
        found = not _PLAIN_READ.match(statement) or _LOCKS.search(statement) is not None
        if len(_NEEDS) >= _MAX_KEPT:
            _NEEDS.clear()
        _NEEDS[statement] = found
    return found


_NEEDS: dict[str, bool] = {}
_MAX_KEPT = 2048


def init_engine(engine: Engine) -> None:
    """Begin this (psycopg) engine's transactions before the first write during a request."""
    if engine.dialect.driver != "psycopg":
        return  # SQLite's driver already begins only before a write
    event.listen(engine, "checkout", _checked_out)
    event.listen(engine, "before_cursor_execute", _begin_before_write)


def _checked_out(dbapi_connection, connection_record, connection_proxy) -> None:
    # The pool hands a connection out with no transaction open (it rolled back at the return), so its
    # mode is chosen here for this use, whoever used it last and however.
    idle = dbapi_connection.info.transaction_status.name == "IDLE"
    lazy = idle and has_request_context()
    if idle and dbapi_connection.autocommit != lazy:
        dbapi_connection.autocommit = lazy
    connection_record.info[_BEGIN_BEFORE_WRITE] = lazy


def _begin_before_write(connection, cursor, statement, parameters, context, executemany) -> None:
    if not connection.info.get(_BEGIN_BEFORE_WRITE):
        return
    driver = cursor.connection
    if not driver.autocommit or driver.info.transaction_status.name != "IDLE":
        return  # begun already, or an isolation level the caller set (the driver begins by itself then)
    if context is not None and context.execution_options.get("isolation_level") == "AUTOCOMMIT":
        return  # the caller asked for autocommit itself
    if needs_transaction(statement):
        cursor.execute("BEGIN", prepare=False)  # one statement per transaction: not worth a prepared one
