"""The reads every request makes, run on psycopg's own cursor with their SQL compiled once.

Through SQLAlchemy's execution and result machinery a statement cost a busy worker about 190 µs of
CPU where psycopg alone takes about 110: for the few statements a page or a toggle cannot do
without (the counters, a page of cards, a toggle's card) that was a tenth of the request. Their
columns are numbers, text, booleans, timestamps and JSON, which psycopg returns as SQLAlchemy would;
the rows are named tuples (attribute access, unpacking, indexing, as SQLAlchemy's rows). Any other
driver, and any statement that writes or locks (it must begin the transaction first, see
`runtime.transactions`), goes through SQLAlchemy as usual.
"""

from ..extensions import db, lazy_module
from .transactions import needs_transaction

_ROWS = lazy_module("psycopg.rows")
_COMPILED: dict[tuple, tuple] = {}


def rows(statement, params: dict | None = None) -> list:
    """All rows of `statement` (a SELECT built once) with `params`, on the session's connection."""
    params = params or {}
    connection = db.session.connection()
    if connection.dialect.driver != "psycopg":
        return connection.execute(statement, params).all()
    key = (id(statement), connection.dialect.server_version_info)
    compiled = _COMPILED.get(key)
    if compiled is None or compiled[0] is not statement:
        found = statement.compile(dialect=connection.dialect)
        processors = found._bind_processors
        constants = {name: processors[name](value) if name in processors else value
                     for name, value in found.construct_params(params).items() if name not in params}
        compiled = _COMPILED[key] = (statement, str(found), constants, needs_transaction(str(found)))
    if compiled[3]:
        return connection.execute(statement, params).all()
    with connection.connection.driver_connection.cursor(row_factory=_ROWS.namedtuple_row) as cursor:
        cursor.execute(compiled[1], {**compiled[2], **params})
        return cursor.fetchall()
