"""Per-module locks held across worker processes: the installer takes one while it changes a
module's folders, and discovery leaves alone a folder whose lock is held.

Each is a `flock` on `instance/locks/<name>.lock`: it holds across processes and the kernel
releases it if the process dies, so a crash never leaves a module locked. On PostgreSQL a module's
lock is also a session advisory lock, so two nodes sharing the database never change the same
module at once; the server releases it when the holder's connection ends (a killed node included).
"""

import contextlib
import fcntl
import os
import zlib
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import text

from ..errors import Conflict
from ..extensions import db

ADVISORY_NAMESPACE = 0x6D6F64  # "mod": the first key of every module lock's (namespace, name) pair


def _lock_file(name: str) -> Path:
    folder = Path(current_app.instance_path) / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.lock"


@contextlib.contextmanager
def try_lock(name: str):
    """Yield True while holding the named lock, or False at once if another process holds it."""
    fd = os.open(_lock_file(name), os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextlib.contextmanager
def try_cluster_lock(name: str):
    """Yield True while holding the named advisory lock on PostgreSQL (always True on SQLite)."""
    if db.engine.dialect.name != "postgresql":
        yield True
        return
    key = zlib.crc32(name.encode()) - 2**31  # PostgreSQL's int4
    with db.engine.connect() as connection:
        held = connection.execute(text("SELECT pg_try_advisory_lock(:ns, :key)"),
                                  {"ns": ADVISORY_NAMESPACE, "key": key}).scalar()
        connection.commit()
        try:
            yield held
        finally:
            if held:
                connection.execute(text("SELECT pg_advisory_unlock(:ns, :key)"), {"ns": ADVISORY_NAMESPACE, "key": key})
                connection.commit()


def busy_message(slug: str):
    return _l("Try again in a moment: an install of %(slug)s is already in progress.", slug=slug)


@contextlib.contextmanager
def module_lock(slug: str):
    """Hold the module's lock, or refuse at once with one sentence if an install holds it."""
    with try_lock(slug) as held, try_cluster_lock(slug) as cluster_held:
        if not (held and cluster_held):
            raise Conflict(busy_message(slug))
        yield


def is_locked(slug: str) -> bool:
    with try_lock(slug) as held:
        return not held
