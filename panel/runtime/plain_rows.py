"""The statements every request or toggle runs, on the driver's own cursor with their SQL compiled once.

Through SQLAlchemy's execution and result machinery a statement cost a busy worker about 190 µs of
CPU on psycopg where the driver alone takes about 110, and on SQLite 40 µs where the driver takes
10: for the few statements a page or a toggle cannot do without (the counters, a page of cards, a
toggle's card, its writes) that was a tenth of the request. Each is compiled once per database;
its parameters and columns go through the same type processors SQLAlchemy would apply (on SQLite
timestamps, JSON and booleans are stored as text and numbers), and rows are named tuples (attribute
access, unpacking, indexing, as SQLAlchemy's rows).

On PostgreSQL a statement that writes or locks goes through SQLAlchemy, which begins the
transaction first (see `runtime.transactions`); SQLite's driver begins one by itself before a write.
A statement with a list parameter (`IN`), and any other driver, go through SQLAlchemy as usual.
"""

from collections import namedtuple
from contextlib import contextmanager
from typing import NamedTuple

from sqlalchemy.exc import DBAPIError

from ..extensions import db, lazy_module
from .transactions import needs_transaction

_ROWS = lazy_module("psycopg.rows")
_DRIVERS = ("psycopg", "pysqlite")


class _Compiled(NamedTuple):
    statement: object  # kept so that an id reused by another statement is never mistaken for it
    sql: str
    positions: tuple | None  # the parameter names in order (SQLite's `?`); None: named (psycopg)
    constants: dict  # the statement's own parameters, processed
    binds: dict  # name → bind processor, for the caller's parameters
    row: type | None  # the named tuple of a row; None: the statement returns none
    results: tuple | None  # a processor per column (SQLite), or None when no column needs one
    through_sqlalchemy: bool


_COMPILED: dict[tuple, _Compiled] = {}
_MAX_KEPT = 512  # the panel runs a few dozen such statements; a statement built per call must not pile up


def _compiled(statement, connection, params: dict, writes: bool = False) -> _Compiled:
    """`statement` compiled for this database; an INSERT or UPDATE (`writes`) for the columns its
    parameters set, as SQLAlchemy compiles it."""
    dialect = connection.dialect
    keys = tuple(params) if writes else None
    key = (id(statement), keys, dialect.name, dialect.server_version_info)
    found = _COMPILED.get(key)
    if found is not None and found.statement is statement:
        return found
    compiled = statement.compile(dialect=dialect, column_keys=list(keys) if writes else None)
    sql = str(compiled)
    binds = compiled._bind_processors
    constants = {name: binds[name](value) if name in binds else value
                 for name, value in compiled.construct_params(params).items() if name not in params}
    columns = compiled._result_columns
    row = namedtuple("Row", [column.keyname for column in columns], rename=True) if columns else None
    results = None
    if dialect.name == "sqlite" and columns:
        results = tuple(column.type._cached_result_processor(dialect, None) for column in columns)
        results = results if any(results) else None
    through_sqlalchemy = ("POSTCOMPILE" in sql or (dialect.driver == "psycopg" and needs_transaction(sql))
                          or bool(getattr(compiled, "insert_prefetch", None) or getattr(compiled, "update_prefetch", None)))
    if len(_COMPILED) >= _MAX_KEPT:
        _COMPILED.clear()
    found = _COMPILED[key] = _Compiled(statement, sql, tuple(compiled.positiontup or ()) if compiled.positional
                                       else None, constants, binds, row, results, through_sqlalchemy)
    return found


def rows(statement, params: dict | None = None) -> list:
    """All rows of `statement` (a SELECT built once) with `params`, on the session's connection."""
    params = params or {}
    connection = db.session.connection()
    if connection.dialect.driver not in _DRIVERS:
        return connection.execute(statement, params).all()
    compiled = _compiled(statement, connection, params)
    if compiled.through_sqlalchemy:
        return connection.execute(statement, params).all()
    driver = connection.connection.driver_connection
    with _as_sqlalchemy_errors(connection, compiled, params):
        if compiled.positions is None:  # psycopg
            with driver.cursor(row_factory=_ROWS.namedtuple_row) as cursor:
                cursor.execute(compiled.sql, {**compiled.constants, **_processed(compiled, params)})
                return cursor.fetchall()
        found = driver.execute(compiled.sql, _positional(compiled, params)).fetchall()
    make, results = compiled.row._make, compiled.results
    if results is None:
        return [make(row) for row in found]
    return [make([value if process is None or value is None else process(value)
                  for process, value in zip(results, row)]) for row in found]


def run(connection, statement, params: dict):
    """Run an INSERT or UPDATE (a statement built once) with `params` on `connection`, in its
    transaction; the first column of its RETURNING row, or None."""
    compiled = _compiled(statement, connection, params, writes=True) if connection.dialect.driver == "pysqlite" else None
    if compiled is None or compiled.through_sqlalchemy:
        result = connection.execute(statement, params)
        return result.scalar() if result.returns_rows else None
    with _as_sqlalchemy_errors(connection, compiled, params):
        cursor = connection.connection.driver_connection.execute(compiled.sql, _positional(compiled, params))
        if compiled.row is None:
            return None
        found = cursor.fetchone()
    value = None if found is None else found[0]
    process = compiled.results[0] if compiled.results else None
    return value if process is None or value is None else process(value)


def _processed(compiled: _Compiled, params: dict) -> dict:
    binds = compiled.binds
    return {name: binds[name](value) if name in binds else value for name, value in params.items()}


def _positional(compiled: _Compiled, params: dict) -> tuple:
    values = {**compiled.constants, **_processed(compiled, params)}
    return tuple(values.get(name) for name in compiled.positions)


@contextmanager
def _as_sqlalchemy_errors(connection, compiled: _Compiled, params: dict):
    """The driver's errors raised as SQLAlchemy raises them (a locked database is an
    `OperationalError` the panel answers with "busy, try again"), as if SQLAlchemy had run it."""
    dbapi = connection.dialect.loaded_dbapi
    try:
        yield
    except dbapi.Error as exc:
        raise DBAPIError.instance(compiled.sql, params, exc, dbapi.Error, dialect=connection.dialect) from exc
