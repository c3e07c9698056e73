"""Uploaded packages waiting for the administrator's decision: kept in staging, never in modules/.

Each upload is `<token>.zip` plus `<token>.json` (who, when, the report) under
`STAGING_PATH/uploads/`. Tokens are random hex; the client's file name is only ever shown,
never used on disk. Entries older than PENDING_UPLOAD_TTL_SECONDS are removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import time
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l

from ..errors import Conflict, NotFound, PackageError

TOKEN_RE = re.compile(r"^[0-9a-f]{32}$")
CHUNK = 1024 * 1024


def folder() -> Path:
    path = Path(current_app.config["STAGING_PATH"]) / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _paths(token: str) -> tuple[Path, Path]:
    if not isinstance(token, str) or not TOKEN_RE.match(token):
        raise NotFound(_l("This upload has expired or does not exist; upload the file again."))
    base = folder()
    return base / f"{token}.zip", base / f"{token}.json"


def _claimed(token: str) -> Path:
    return _paths(token)[0].with_suffix(".claimed")


ALREADY_CLAIMED = _l("This upload is already being installed (a second press); see the installed modules.")


def receive(stream, max_bytes: int) -> tuple[str, Path]:
    """Copy an upload stream into a new pending file, refusing it as soon as it passes `max_bytes`."""
    expire()
    token = secrets.token_hex(16)
    package, _ = _paths(token)
    total = 0
    fd = os.open(package, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            while True:
                chunk = stream.read(CHUNK)
                if not chunk:
                    break
                total += len(chunk)
                if total > max_bytes:
                    raise PackageError(_l("The package is larger than %(n)s MB.", n=f"{max_bytes / 1048576:.0f}"))
                out.write(chunk)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            package.unlink()
        raise
    if total == 0:
        package.unlink()
        raise PackageError(_l("The uploaded file is empty."))
    return token, package


def remember(token: str, meta: dict) -> None:
    _, info = _paths(token)
    tmp = info.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({**meta, "created": time.time()}), encoding="utf-8")
    os.replace(tmp, info)


def load(token: str) -> tuple[Path, dict]:
    package, info = _paths(token)
    if _claimed(token).exists():
        raise Conflict(ALREADY_CLAIMED)
    ttl = int(current_app.config["PENDING_UPLOAD_TTL_SECONDS"])
    try:
        meta = json.loads(info.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        discard(token)
        raise NotFound(_l("This upload has expired or does not exist; upload the file again.")) from None
    if not package.is_file() or time.time() - float(meta.get("created", 0)) > ttl:
        discard(token)
        raise NotFound(_l("This upload has expired or does not exist; upload the file again."))
    return package, meta


def claim(token: str) -> tuple[Path, dict]:
    """Take the upload for installation in one atomic step (a rename): of two presses on any worker,
    one gets the package, the other a Conflict saying so. `release` gives it back after a failure."""
    package, meta = load(token)
    claimed = _claimed(token)
    try:
        os.link(package, claimed)  # fails if another press made it first (unlike rename, never replaces)
    except FileExistsError:
        raise Conflict(ALREADY_CLAIMED) from None
    except FileNotFoundError:
        raise Conflict(ALREADY_CLAIMED) from None
    package.unlink(missing_ok=True)
    os.utime(claimed)  # the time-to-live counts from the claim: an install in progress is never expired
    return claimed, meta


def release(token: str) -> None:
    """A claimed upload that was not installed waits for a decision again."""
    with contextlib.suppress(NotFound, FileNotFoundError):
        package, _ = _paths(token)
        os.replace(_claimed(token), package)


def discard(token: str) -> None:
    with contextlib.suppress(NotFound):
        for path in (*_paths(token), _claimed(token)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def expire() -> list[str]:
    """Remove pending uploads older than the TTL (and orphans); returns their tokens."""
    ttl = int(current_app.config["PENDING_UPLOAD_TTL_SECONDS"])
    now = time.time()
    removed = []
    for path in folder().iterdir():
        try:
            age = now - path.stat().st_mtime
        except FileNotFoundError:
            continue
        if age > ttl:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            removed.append(path.name)
    return removed
