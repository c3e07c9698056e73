"""One journaled change of one module's folders and rows: the shape every install, uninstall and
rollback shares, written once (modelled on pip's stash / commit / rollback of an uninstall).

1. the caller holds the module's lock (`services.locks.module_lock`);
2. `Transaction(...)` writes a journal row and commits it, before anything moves;
3. `move(...)` journals the renames it is about to make, then makes them: each is atomic on one
   file system;
4. the caller changes the database, then `commit()` marks the journal row done in the SAME
   transaction: the outcome is decided when that commit lands;
5. `finish()` removes what is no longer needed (old backup, staging) and closes the row.

Any exception inside `with transaction:` before the commit undoes it: forget the code loaded from
the moved folders, roll the database back, put the renames back newest first, record the failure,
serve the restored code again, and re-raise (a panel error as it is, anything else as one
sentence). A process killed at any point leaves a journal row that `recovery` undoes (not done)
or finishes (done) at the next start.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import signal
import time
import uuid
from pathlib import Path
from typing import Callable

from flask import current_app
from flask_babel import lazy_gettext as _l

from ..errors import PackageError, PanelError
from ..extensions import db
from ..models import InstallJournal
from ..runtime.registry import describe
from ..services import audit
from . import activation

log = logging.getLogger(__name__)
FAULT_ENV = "PANEL_INSTALLER_FAULT"  # test-only: "kill:<step>" or "pause:<step>"
FAULT_MARKER_ENV = "PANEL_INSTALLER_FAULT_MARKER"


def paths() -> dict[str, Path]:
    cfg = current_app.config
    return {"modules": Path(cfg["MODULES_PATH"]), "staging": Path(cfg["STAGING_PATH"]),
            "backups": Path(cfg["BACKUPS_PATH"])}


def checkpoint(step: str) -> None:
    """Test-only fault injection: kill or pause the process at a named step."""
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    action, _, name = spec.partition(":")
    if name != step:
        return
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "pause":
        marker = os.environ.get(FAULT_MARKER_ENV)
        if marker:
            Path(marker).write_text(step)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            time.sleep(0.05)


def exists(path) -> bool:
    return os.path.lexists(path)


def remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif exists(path):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def undo_files(renames: list, cleanup: list[str]) -> None:
    """Reverse the renames that happened, newest first, and remove what the operation created.
    Safe to repeat (a crash may interrupt it)."""
    for src, dst in reversed(renames):
        if exists(dst) and not exists(src):
            os.rename(dst, src)
    for path in cleanup:
        if not any(path == src for src, _ in renames):
            remove(path)


def failure_reason(exc: BaseException, generic: Callable[[str], object]) -> str:
    if isinstance(exc, PanelError):
        return str(exc.message)
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return str(_l("There is not enough free disk space to unpack the package."))
    return str(generic(describe(exc)))


class Transaction:
    """One journaled install, uninstall or rollback of one module (see the module docstring).

    `failure_message(error)` words an unexpected error; `on_failure(reason)`, when given, records
    the failure instead of the default audit entry `<kind>_failed`, inside the undo's transaction.
    """

    def __init__(self, kind: str, slug: str, actor: str, *, failure_message: Callable[[str], object],
                 on_failure: Callable[[str], None] | None = None, job_id: int | None = None, **data):
        self.kind, self.slug, self.actor = kind, slug, actor
        self.failure_message = failure_message
        self.on_failure = on_failure or self._audit_failure
        self.op = uuid.uuid4().hex[:12]
        self.renames: list[list[str]] = []
        self.cleanup: list[str] = []
        self.moved = False
        self.committed = False
        self.journal = InstallJournal(slug=slug, job_id=job_id, step="begin", done=False,
                                      data={"kind": kind, "op": self.op, "actor": actor, "renames": [],
                                            "cleanup": [], **data})
        db.session.add(self.journal)
        db.session.commit()

    # --- the steps -------------------------------------------------------------------------------------

    def _save(self, step: str, **data) -> None:
        self.journal.step = step
        self.journal.data = {**self.journal.data, "renames": self.renames, "cleanup": self.cleanup, **data}

    def step(self, step: str, **data) -> None:
        self._save(step, **data)
        db.session.commit()

    def move(self, renames: list[tuple[Path, Path]], steps: list[str]) -> None:
        """Journal the renames, then make them, passing the named checkpoint after each."""
        self.renames = [[str(src), str(dst)] for src, dst in renames]
        self.step("swap")
        self.moved = True
        checkpoint("journaled")
        for (src, dst), name in zip(self.renames, steps):
            os.rename(src, dst)
            checkpoint(name)

    def commit(self, **data) -> None:
        """Mark the journal done in the caller's transaction and commit both together."""
        self.journal.done = True
        self._save("committed", **data)
        db.session.commit()
        self.committed = True
        checkpoint("committed")

    def finish(self) -> None:
        for path in self.cleanup:
            remove(path)
        self.step("finished")

    # --- the undo ------------------------------------------------------------------------------------------

    def __enter__(self) -> "Transaction":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc is None or self.committed:
            return  # nothing to undo, or too late to: the journal says the change is done
        reason = failure_reason(exc, self.failure_message)
        log.warning("%s of %s failed: %s", self.kind, self.slug, reason)
        try:
            if self.moved:
                activation.forget(self.slug)
            self._fail(reason)
            if self.moved:
                activation.reload(self.slug)
        except Exception:  # noqa: BLE001 — the journal lets the next start finish the undo
            log.exception("undoing the %s of %s failed; the next start will finish it", self.kind, self.slug)
        if isinstance(exc, PanelError) or not isinstance(exc, Exception):
            raise exc  # panel errors and interruptions go on as they are
        raise PackageError(reason) from exc

    def _fail(self, reason: str) -> None:
        db.session.rollback()
        undo_files(self.renames, self.cleanup)
        journal = db.session.get(InstallJournal, self.journal.id)
        journal.done = True
        journal.step = "failed"
        journal.data = {**journal.data, "renames": self.renames, "cleanup": self.cleanup, "reason": reason[:1000]}
        self.on_failure(reason)
        db.session.commit()

    def _audit_failure(self, reason: str) -> None:
        audit.record(self.actor, f"{self.kind}_failed", self.slug, reason)
