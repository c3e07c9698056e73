"""A whole catalog written at once: what the process and SQLite do differently meanwhile (no cycle
collection, a bigger page cache), and what a thread does afterwards, after the commit (the replaced
rows deleted, then on SQLite the log copied back into the database file)."""

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
def bulk_write(afterwards=None):
    """A bigger SQLite page cache while a whole catalog is written, given back afterwards. 16 MB: at
    60,000 modules 256 MB wrote no faster here, and a worker kept about 90 MB of it after the refresh.

    And no checkpoint in the commit: copying a whole catalog's pages from the write-ahead log into
    the database file (and syncing it) was a fifth of the refresh. A thread does it on its own
    connection right after; readers meanwhile read those pages from the log, as SQLite always allows.
    When the block succeeded, that thread first runs `afterwards(connection)` in a transaction of its
    own (on any database): work the write left for later, such as deleting the rows it replaced."""
    engine = db.session.get_bind()
    if engine.dialect.name != "sqlite":
        yield
        if afterwards is not None:
            in_background(engine, afterwards, checkpoint=False)
        return
    # On the driver's connection itself: the session hands its connection back to the pool at the
    # commit, so a statement through the session afterwards could land on another one and leave
    # this one with the bulk settings for good (no checkpoint ever again on it, a 16 MB cache).
    raw = db.session.connection().connection.driver_connection
    cache_before = raw.execute("PRAGMA cache_size").fetchone()[0]
    checkpoint_before = raw.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
    raw.execute(f"PRAGMA cache_size = -{BULK_CACHE_KB}")
    raw.execute("PRAGMA wal_autocheckpoint = 0")
    succeeded = False
    try:
        yield
        succeeded = True
    finally:
        raw.execute(f"PRAGMA cache_size = {int(cache_before)}")
        raw.execute(f"PRAGMA wal_autocheckpoint = {int(checkpoint_before)}")
        if checkpoint_before or succeeded and afterwards is not None:
            in_background(engine, afterwards if succeeded else None, checkpoint=bool(checkpoint_before))


_threads: list[threading.Thread] = []


def in_background(engine, afterwards=None, checkpoint: bool = True) -> None:
    """On a thread of its own: `afterwards(connection)` in its own transaction, then on SQLite a
    checkpoint that copies the write-ahead log into the database file (PASSIVE: it never waits for,
    nor blocks, a reader or a writer; what it cannot copy now the next checkpoint will). A failure
    is logged and left to the next time: both are done again after the next bulk write."""
    def run():
        try:
            if afterwards is not None:
                with engine.begin() as connection:
                    afterwards(connection)
            if checkpoint:
                with engine.connect() as connection:
                    connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception:  # noqa: BLE001 — the next bulk write does the same work
            log.warning("work after a bulk write failed; the next one does it again", exc_info=True)

    thread = threading.Thread(target=run, name="catalog-after-write", daemon=True)
    _threads[:] = [t for t in _threads if t.is_alive()] + [thread]
    thread.start()


def wait_for_background(timeout: float = 10.0) -> None:
    """Tests and the benchmark: wait until this process's threads started after a bulk write (the
    deletion of replaced rows, the checkpoint) have finished."""
    for thread in list(_threads):
        thread.join(timeout)
