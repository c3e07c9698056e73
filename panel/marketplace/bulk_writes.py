"""A whole catalog written at once: what the process and SQLite do differently meanwhile (no cycle
collection, a bigger page cache, the log copied back into the database file by a thread afterwards)."""

import gc
import logging
import threading
from contextlib import contextmanager

from ..extensions import db

BULK_CACHE_KB = 16 * 1024
log = logging.getLogger(__name__)


@contextmanager
def collector_paused():
    """No cycle collection while a catalog is read, checked and written: each of its passes walked
    every object of the parsed catalog (60,000 entries: a third of the refresh), and nothing made
    meanwhile is cyclic garbage worth finding. Process-wide, so only re-enabled by whoever paused it."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


@contextmanager
def bulk_write():
    """A bigger SQLite page cache while a whole catalog is written, given back afterwards. 16 MB: at
    60,000 modules 256 MB wrote no faster here, and a worker kept about 90 MB of it after the refresh.

    And no checkpoint in the commit: copying a whole catalog's pages from the write-ahead log into
    the database file (and syncing it) was a fifth of the refresh. A thread does it on its own
    connection right after; readers meanwhile read those pages from the log, as SQLite always allows."""
    if db.session.get_bind().dialect.name != "sqlite":
        yield
        return
    # On the driver's connection itself: the session hands its connection back to the pool at the
    # commit, so a statement through the session afterwards could land on another one and leave
    # this one with the bulk settings for good (no checkpoint ever again on it, a 16 MB cache).
    raw = db.session.connection().connection.driver_connection
    cache_before = raw.execute("PRAGMA cache_size").fetchone()[0]
    checkpoint_before = raw.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
    raw.execute(f"PRAGMA cache_size = -{BULK_CACHE_KB}")
    raw.execute("PRAGMA wal_autocheckpoint = 0")
    try:
        yield
    finally:
        raw.execute(f"PRAGMA cache_size = {int(cache_before)}")
        raw.execute(f"PRAGMA wal_autocheckpoint = {int(checkpoint_before)}")
        if checkpoint_before:
            checkpoint_in_background(db.session.get_bind())


_checkpoints: list[threading.Thread] = []


def checkpoint_in_background(engine) -> None:
    """Copy the write-ahead log into the database file on a thread of its own (PASSIVE: it never
    waits for, nor blocks, a reader or a writer; what it cannot copy now the next checkpoint will)."""
    def run():
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception:  # noqa: BLE001 — a later commit's automatic checkpoint does the same work
            log.debug("background checkpoint failed", exc_info=True)

    thread = threading.Thread(target=run, name="catalog-checkpoint", daemon=True)
    _checkpoints[:] = [t for t in _checkpoints if t.is_alive()] + [thread]
    thread.start()


def wait_for_checkpoints(timeout: float = 10.0) -> None:
    """Tests and the benchmark: wait until the background checkpoints of this process have finished."""
    for thread in list(_checkpoints):
        thread.join(timeout)
