"""Crash recovery: at start, undo the journaled operations a crash interrupted, finish the ones
that committed, and clear staging leftovers no live operation owns."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select

from ..extensions import db
from ..manifest import SLUG_RE
from ..models import InstallJournal, Job, Module
from ..runtime.registry import bump_code_generation
from ..services import audit, jobs
from ..services.locks import is_locked, try_lock
from . import pending
from .transaction import paths, remove, undo_files

log = logging.getLogger(__name__)


def recover_at_start(app) -> None:
    """Called once from `create_app`: never stops the panel from starting."""
    try:
        with app.app_context():
            try:
                result = recover_interrupted()
            finally:
                db.session.remove()
        if result.get("undone") or result.get("finished"):
            log.warning("install recovery: undid %s, finished %s", result["undone"], result["finished"])
    except Exception:  # noqa: BLE001 — recovery must never keep the panel from starting
        log.exception("install recovery at start failed; the panel starts anyway")


def recover_interrupted() -> dict:
    """Undo operations a crash interrupted, finish committed ones, clear stale staging.

    Safe to run from several worker processes at once (a lock serialises it; a module whose lock
    is held by a live install is left alone) and on a database that is not migrated yet (skipped).
    """
    result = {"undone": [], "finished": [], "removed": []}
    try:
        if not sa_inspect(db.engine).has_table("install_journal"):
            return result
    except Exception:  # noqa: BLE001
        return result
    deadline = time.monotonic() + 30
    while True:
        with try_lock("_recovery") as held:
            if held:
                return _recover(result)
        if time.monotonic() > deadline:
            log.warning("another process has been recovering for 30 s; skipping recovery here")
            return result
        time.sleep(0.05)


def _inside(path: str, roots: list[Path]) -> bool:
    real = os.path.realpath(path)
    return any(os.path.commonpath([real, os.path.realpath(root)]) == os.path.realpath(root) for root in roots)


def _recover(result: dict) -> dict:
    where = paths()
    roots = [where["modules"], where["staging"], where["backups"]]
    rows = list(db.session.scalars(select(InstallJournal).where(InstallJournal.step.notin_(("finished", "failed")))
                                   .order_by(InstallJournal.id)))
    for row in rows:
        with try_lock(row.slug) as free:
            if not free:
                continue
            db.session.refresh(row)
            data = dict(row.data or {})
            renames = [r for r in data.get("renames", []) if _inside(r[0], roots) and _inside(r[1], roots)]
            cleanup = [p for p in data.get("cleanup", []) if _inside(p, roots)]
            if row.done:
                for path in cleanup:
                    remove(path)
                row.step = "finished"
                _record_finished(row, data)
                db.session.commit()
                result["finished"].append(row.slug)
                continue
            undo_files(renames, cleanup)
            _record_undone(row, data)
            bump_code_generation()
            db.session.commit()
            result["undone"].append(row.slug)
    result["removed"] = clean_staging()
    return result


def _record_undone(row: InstallJournal, data: dict) -> None:
    """The journal, audit, module card and job say the interrupted operation was put back."""
    reason = str(_l("Interrupted while “%(step)s” (the panel stopped); everything was put back as it was.",
                    step=row.step))
    row.done = True
    row.step = "failed"
    row.data = {**data, "reason": reason}
    audit.record(data.get("actor") or "system", f"{data.get('kind', 'install')}_failed", row.slug, reason)
    module = db.session.get(Module, row.slug)
    if module is not None and data.get("kind") == "install" and data.get("old_version"):
        module.error = str(_l("The update to %(version)s failed and was undone: %(reason)s",
                              version=data.get("new_version", "?"), reason=reason))[:1000]
    if row.job_id:
        job = db.session.get(Job, row.job_id)
        if job is not None and job.state in jobs.ACTIVE:
            job.state, job.message = "failed", reason
        jobs.discard_files(job)


def _record_finished(row: InstallJournal, data: dict) -> None:
    """The change had committed when the panel stopped: its job is done, and says it was interrupted."""
    if not row.job_id:
        return
    job = db.session.get(Job, row.job_id)
    if job is not None and job.state in jobs.ACTIVE:
        job.state, job.phase = "done", "done"
        job.message = str(jobs.kept_message(job, data.get("new_version")))
    jobs.discard_files(job)


def _owner(name: str, prefix: str) -> str | None:
    if not name.startswith(prefix):
        return None
    slug = name[len(prefix):].split(".")[0]
    return slug if SLUG_RE.match(slug) else None


def clean_staging() -> list[str]:
    """Remove extraction folders and trash no live operation owns, and expired temporary files."""
    where = paths()
    ttl = int(current_app.config.get("PENDING_UPLOAD_TTL_SECONDS", 3600))
    removed = []
    busy = {row.slug for row in db.session.scalars(select(InstallJournal).where(InstallJournal.done.is_(False)))}
    candidates = []
    for entry in where["staging"].iterdir() if where["staging"].is_dir() else []:
        if entry.name.startswith("dir-"):  # leftovers of the folder installer that came before the pipeline
            candidates.append((entry, None))
        elif entry.name not in ("tmp", "uploads") and entry.is_dir():
            candidates.append((entry, _owner(entry.name, "")))
    for entry in where["backups"].iterdir() if where["backups"].is_dir() else []:
        for prefix in (".trash-", ".swap-"):
            slug = _owner(entry.name, prefix)
            if slug:
                candidates.append((entry, slug))
    for entry, slug in candidates:
        if slug is not None and (slug in busy or is_locked(slug)):
            continue
        if slug is None and not entry.name.startswith("dir-"):
            continue
        remove(str(entry))
        removed.append(entry.name)
    tmp = where["staging"] / "tmp"
    if tmp.is_dir():
        for entry in tmp.iterdir():
            with contextlib.suppress(FileNotFoundError):
                if time.time() - entry.stat().st_mtime > ttl:
                    remove(str(entry))
                    removed.append(f"tmp/{entry.name}")
    removed += [f"uploads/{name}" for name in pending.expire()]
    return removed
