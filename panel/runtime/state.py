"""The shared counters in `panel_state`, read once per request, and per-process caches keyed on them.

Each counter moves, in the same transaction, with whatever it stands for:

- `generation`: module states (a toggle, an install, an uninstall…);
- `code`: module code on disk (install, update, uninstall, rollback);
- `sidebar`: menu sections and the display options of modules;
- `sessions`: users and their sign-in sessions (a sign-in, a sign-out, a new password);
- `catalog`: the stored catalog's head and store documents (`catalog_cache` rows).

`sidebar` and `sessions` move by themselves whenever their rows are written through the ORM
(`_counted_writes`); the few bulk statements on those tables move them explicitly. `catalog` moves
with any ORM write or UPDATE/DELETE statement on its table (`_counted_statements`).

A request reads them all in one statement and keeps them on `g`; a worker that kept something
computed from the database keeps it under the counters it was computed at, so a write on any worker
or node moves the key and nothing is served stale past the next request.
"""

import threading
from collections.abc import Callable, Hashable
from functools import partial
from typing import NamedTuple

from flask import current_app, g, has_request_context, request
from sqlalchemy import (JSON, Boolean, and_, bindparam, cast, event, func, literal, null, or_, select, type_coerce,
                        union_all)
from sqlalchemy.orm import Session

from ..extensions import db, lazy_module
from ..models import CatalogCache, LicenseState, MenuSection, Module, PanelState, User, UserSession
from . import plain_rows, writes

_ALL = select(PanelState.key, PanelState.value)
# The upsert of the database in use (its engine has imported its dialect); the other is never imported.
_DIALECTS = {"postgresql": lazy_module("sqlalchemy.dialects.postgresql"),
             "sqlite": lazy_module("sqlalchemy.dialects.sqlite")}


def upsert_insert(dialect_name: str):
    """The INSERT with `on_conflict_do_…` of this database (by its dialect's name), or None."""
    dialect = _DIALECTS.get(dialect_name)
    return None if dialect is None else dialect.insert

# A request reads the license row (services.licenses.current) in the same statement as the counters:
# one round trip instead of two. Its row is the one whose key is NULL (a counter's key never is).
LICENSE_ROW_ID = 1  # the table's one row
_LICENSE = LicenseState.__table__
_ALL_AND_LICENSE = union_all(
    select(PanelState.key, PanelState.value, *(type_coerce(null(), column.type).label(column.name)
                                               for column in _LICENSE.c)),
    select(null(), null(), *_LICENSE.c).where(_LICENSE.c.id == LICENSE_ROW_ID))
_LICENSE_ROW = "_panel_license_row"
NOT_READ = object()


class Rider(NamedTuple):
    """What a request is likely to read next, sent along with the counters on PostgreSQL (where
    each statement is a round trip) when the copy a worker keeps of it is out of date: one more row
    of the counters' statement, whose `rider` column holds `value` (a JSON expression)."""

    name: str
    value: Callable[[], object]  # builds the JSON expression (at its first use, on PostgreSQL)
    depends_on: tuple[str, ...]
    # The counters (values of `depends_on`) the worker's copy was kept at (`()`: nothing kept yet).
    kept_at: Callable[[], tuple]
    methods: tuple[str, ...] = ("GET",)  # the requests that will want the value


_RIDER_KEY = "~rider"  # the rider row's key: a counter's key is an identifier, never this
_RIDER_ROW = "_panel_rider_row"
_riders: list[Rider] = []
_with_rider: list = []  # the counters' statement with the rider, built at its first use


def set_rider(rider: Rider) -> None:
    """Send `rider` along with the counters (one rider at a time; PostgreSQL only)."""
    _riders[:] = [rider]
    _with_rider.clear()


def ridden(name: str):
    """The rider's value as this request's counters statement read it, while this request has not
    moved a counter since; `NOT_READ` when it was not sent (then read it yourself)."""
    if not has_request_context() or g.get("_panel_moves") or g.get("_panel_counters") is None:
        return NOT_READ
    found = g.get(_RIDER_ROW)
    return found[1] if found is not None and found[0] == name else NOT_READ


def read() -> dict[str, int]:
    """Every counter as the database holds it now."""
    return dict(db.session.connection().execute(_ALL).all())


def counters() -> dict[str, int]:
    """The counters as this request first read them (or read now, outside a request)."""
    if not has_request_context():
        return read()
    found = g.get("_panel_counters")
    if found is None:
        found = g._panel_counters = _read_with_license()
    return found


def _read_with_license() -> dict[str, int]:
    connection = db.session.connection()
    rider = _riders[0] if _riders and connection.dialect.name == "postgresql" else None
    if rider is None:
        rows = plain_rows.rows(_ALL_AND_LICENSE)
    else:
        kept_at = rider.kept_at() if request.method in rider.methods else None
        params = {f"rider_{key}": value for key, value in zip(rider.depends_on, kept_at or (-1,) * len(rider.depends_on))}
        rows = plain_rows.rows(_statement_with(rider), {**params, "rider_wanted": kept_at is not None})
        g.pop(_RIDER_ROW, None)
        for row in rows:
            if row.key == _RIDER_KEY:
                setattr(g, _RIDER_ROW, (rider.name, row.rider))
    setattr(g, _LICENSE_ROW, next((row for row in rows if row.key is None), None))
    return {row.key: row.value for row in rows if row.key is not None and row.key != _RIDER_KEY}


def _statement_with(rider: Rider):
    """The counters' and license's statement, and a row with the rider's value when it is wanted
    (`rider_wanted`) and any counter it depends on is not what the worker's copy was kept at
    (`rider_<key>` parameters)."""
    if not _with_rider:
        moved = or_(*(func.coalesce(column, 0) != bindparam(f"rider_{key}")
                      for key, column in zip(rider.depends_on, stamp_columns(*rider.depends_on))))
        blank = [type_coerce(null(), column.type).label(column.name) for column in _LICENSE.c]
        _with_rider.append(union_all(
            *(branch.add_columns(cast(null(), JSON).label("rider")) for branch in _ALL_AND_LICENSE.selects),
            select(literal(_RIDER_KEY), null(), *blank, type_coerce(rider.value(), JSON).label("rider"))
            .where(and_(bindparam("rider_wanted", type_=Boolean), moved))))
    return _with_rider[0]


def take_license_row():
    """The license row (or None: no row) as this request's counters statement read it, once;
    `NOT_READ` when it was not read, already taken or dropped (then read it yourself)."""
    return g.pop(_LICENSE_ROW, NOT_READ) if has_request_context() else NOT_READ


def drop_license_row() -> None:
    """The license was written: what the counters statement read of it is out of date."""
    if has_request_context():
        g.pop(_LICENSE_ROW, None)


def value(key: str) -> int:
    return counters().get(key, 0)


_TABLE = PanelState.__table__
# Built once: a statement built per call is compiled-cache-keyed per call, a tenth of a toggle.
_STEP = (_TABLE.update().where(_TABLE.c.key == bindparam("counter")).values(value=_TABLE.c.value + 1)
         .returning(_TABLE.c.value))


def bump(*keys: str, session: Session | None = None) -> None:
    """Move these counters, in the caller's transaction; this request then reads them as moved (at
    the end of the `writes.together()` block the call is in, if any: that is when they move)."""
    session = session or db.session()
    for key in keys:
        writes.execute(_STEP, {"counter": key}, then=partial(_moved, session, key), session=session)


def _moved(session: Session, key: str, value: int | None) -> None:
    if value is None:  # first time this counter moves: made by whichever writer comes first
        value = _first_move(session, key)
    session.info[_UNCOMMITTED] = True
    if has_request_context():
        g._panel_moves = [*g.get("_panel_moves", ()), (key, value)]
        if g.get("_panel_counters") is not None:
            g._panel_counters = {**g._panel_counters, key: value}


def _first_move(session: Session, key: str) -> int:
    """Make the counter's row, or move it when another writer made it meanwhile."""
    connection = session.connection()
    insert = upsert_insert(connection.dialect.name)
    if insert is None:
        session.add(PanelState(key=key, value=1))
        return 1
    made = connection.execute(insert(_TABLE).values(key=key, value=1).on_conflict_do_nothing())
    return 1 if made.rowcount else connection.execute(_STEP, {"counter": key}).scalar()


def moves() -> list[tuple[str, int]]:
    """The counters this request moved, in order, with the value each move gave them."""
    return list(g.get("_panel_moves", ())) if has_request_context() else []


def moved_alone(key: str) -> int | None:
    """The value this request's committed transaction moved `key` to, when that was the one counter
    it moved; None otherwise (nothing moved, more than one, or not committed yet). The counter's row
    stays locked from the move to the commit, so between that value less one and that value the only
    change is this request's own: what a worker kept at the value before can be brought up to date."""
    moved = moves()
    if uncommitted() or len(moved) != 1 or moved[0][0] != key:
        return None
    return moved[0][1]


def uncommitted() -> bool:
    """Whether this session moved counters in a transaction it has not committed yet."""
    return bool(db.session().info.get(_UNCOMMITTED))


_UNCOMMITTED = "panel_counters_moved"


@event.listens_for(Session, "after_commit")
def _committed(session) -> None:
    session.info.pop(_UNCOMMITTED, None)


@event.listens_for(Session, "after_rollback")
def _rolled_back(session) -> None:
    """Moves rolled back never happened: the request reads the counters again."""
    if session.info.pop(_UNCOMMITTED, None) and has_request_context():
        g.pop("_panel_moves", None)
        g.pop("_panel_counters", None)


def stamp_columns(*keys: str) -> list:
    """Columns that read these counters in the same statement as the rows a cache keeps, so the
    rows and the counters they are kept under come from one snapshot (see `Stamped`)."""
    return [select(PanelState.value).where(PanelState.key == key).scalar_subquery().label(f"stamp_{key}")
            for key in keys]


class Stamped:
    """What a computation returns when its statement read the counters too (`stamp_columns`):
    the value, and the first row, whose `stamp_<key>` columns say which counters it saw."""

    def __init__(self, value, row=None, seen: dict[str, int] | None = None):
        """`seen`: the counters as read in the same statement, when the caller has them already."""
        self.value = value
        # `_asdict`: SQLAlchemy's rows and `plain_rows`' named tuples both have it.
        self.seen = seen if row is None else {key.removeprefix("stamp_"): value or 0 for key, value
                                              in row._asdict().items() if key.startswith("stamp_")}


class CountedCache:
    """Values computed from the database, kept per process under the counters `depends_on` at
    the time they were computed. A value is kept only when the counters its statement saw (see
    `Stamped`), or else read again after computing it, match the request's: a write that landed
    in between is never hidden behind an older key."""

    def __init__(self, depends_on: tuple[str, ...], max_entries: int = 16):
        self.depends_on = depends_on
        self.max_entries = max_entries
        self._entries: dict[Hashable, object] = {}
        self._lock = threading.Lock()

    def _stamp(self, found: dict[str, int]) -> tuple:
        return tuple(found.get(key, 0) for key in self.depends_on)

    def get_or_compute(self, key: Hashable, compute: Callable[[], object]):
        stamp = self._stamp(counters())
        with self._lock:
            hit = self._entries.get((stamp, key), self)
        if hit is not self:
            return hit
        computed = compute()
        seen = None
        if isinstance(computed, Stamped):
            computed, seen = computed.value, computed.seen
        # Not kept while this transaction has moved counters it has not committed yet (it reads its
        # own writes, which could still be rolled back), nor when anything moved meanwhile.
        if not uncommitted() and self._stamp(read() if seen is None else seen) == stamp:
            self.put(stamp, key, computed)
        return computed

    def put(self, stamp: tuple, key: Hashable, value) -> None:
        """Keep `value` as what `key` was when the counters were `stamp` (the caller knows it is)."""
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()  # older stamps are never asked for again
            self._entries[(stamp, key)] = value

    def find(self, key: Hashable, wanted: Callable[[tuple], bool]) -> tuple[tuple, object] | None:
        """The kept (stamp, value) of `key` with the latest stamp that is `wanted`."""
        with self._lock:
            found = [(stamp, value) for (stamp, kept_key), value in self._entries.items()
                     if kept_key == key and wanted(stamp)]
        return max(found, key=lambda pair: pair[0], default=None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def cache(name: str, depends_on: tuple[str, ...], max_entries: int = 16) -> CountedCache:
    """This application's cache called `name` (one per app: each app has its own database)."""
    caches = current_app.extensions.setdefault("panel_counted_caches", {})
    found = caches.get(name)
    if found is None:
        found = caches.setdefault(name, CountedCache(depends_on, max_entries))
    return found


# Which counter moves when a row of these models is written through the ORM. A toggle writes its
# module's row directly (services.modules.write) and moves `generation` instead.
COUNTED_MODELS = {Module: "sidebar", MenuSection: "sidebar", User: "sessions", UserSession: "sessions"}
# Tables whose writes move their counter just before the commit, and whose UPDATE and DELETE
# statements (not only ORM objects) count too: their rows are mostly written that way. The
# counter's row is then always the last lock such a transaction takes: two catalog refreshes, each
# holding a catalog row, never wait for each other's counter (PostgreSQL found that deadlock).
COUNTED_AT_COMMIT = {CatalogCache: "catalog"}
_AT_COMMIT = "panel_counters_at_commit"


@event.listens_for(Session, "before_flush")
def _counted_writes(session, flush_context, instances) -> None:
    """Rows of `COUNTED_MODELS` added, changed or deleted move their counter in the same
    transaction, wherever in the code they are written."""
    changed = (*session.new, *session.deleted, *(o for o in session.dirty if session.is_modified(o)))
    moved = {COUNTED_MODELS[type(obj)] for obj in changed if type(obj) in COUNTED_MODELS}
    if moved:
        bump(*sorted(moved), session=session)
    _move_at_commit(session, {COUNTED_AT_COMMIT[type(obj)] for obj in changed if type(obj) in COUNTED_AT_COMMIT})


@event.listens_for(Session, "do_orm_execute")
def _counted_statements(orm_execute_state) -> None:
    if orm_execute_state.is_update or orm_execute_state.is_delete:
        mapper = orm_execute_state.bind_mapper
        key = COUNTED_AT_COMMIT.get(mapper.class_) if mapper is not None else None
        if key is not None:
            _move_at_commit(orm_execute_state.session, {key})


def _move_at_commit(session, keys: set) -> None:
    if keys:
        session.info.setdefault(_AT_COMMIT, set()).update(keys)
        session.info[_UNCOMMITTED] = True  # nothing this transaction reads is kept meanwhile


@event.listens_for(Session, "before_commit")
def _moved_at_commit(session) -> None:
    session.flush()  # a pending write marks its counter now, not after
    keys = session.info.pop(_AT_COMMIT, None)
    if keys:
        bump(*sorted(keys), session=session)


@event.listens_for(Session, "after_rollback")
def _not_moved(session) -> None:
    session.info.pop(_AT_COMMIT, None)
