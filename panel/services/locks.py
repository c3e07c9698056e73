"""Per-module locks held across worker processes: the installer takes one while it changes a
module's folders, and discovery leaves alone a folder whose lock is held.

Each is a `flock` on `instance/locks/<name>.lock`: it holds across processes and the kernel
releases it if the process dies, so a crash never leaves a module locked.
"""

import contextlib
import fcntl
import os
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l

from ..errors import Conflict


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


def busy_message(slug: str):
    return _l("Try again in a moment: an install of %(slug)s is already in progress.", slug=slug)


@contextlib.contextmanager
def module_lock(slug: str):
    """Hold the module's lock, or refuse at once with one sentence if an install holds it."""
    with try_lock(slug) as held:
        if not held:
            raise Conflict(busy_message(slug))
        yield


def is_locked(slug: str) -> bool:
    with try_lock(slug) as held:
        return not held
