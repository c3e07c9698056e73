"""Jobs: long work whose progress lives in the `jobs` table (what each kind does lives beside its
area, e.g. marketplace installs in panel/marketplace/jobs.py).

A job runs in a background thread with its own app context; every phase and byte count is
written to its row, so any worker can answer `GET /jobs/<id>`.
"""

import contextlib
import logging
import os
import socket
import threading
import time
from datetime import timedelta
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, select, update

from ..errors import NotFound
from ..extensions import db
from ..models import InstallJournal, Job, utcnow

log = logging.getLogger(__name__)
ACTIVE = ("queued", "running")
PROGRESS_INTERVAL = 0.2
_threads: list[threading.Thread] = []


def get(job_id) -> Job:
    """The job; one whose heartbeat stopped past the bound is reported failed from now on."""
    job = db.session.get(Job, job_id) if isinstance(job_id, int) and 0 < job_id < 2**63 else None
    if job is None:
        raise NotFound(_l("There is no job number %(id)s.", id=str(job_id)[:20]))
    if job.state in ACTIVE and (job.heartbeat_at or job.updated_at or job.created_at) < utcnow() - _dead_after():
        fail_dead_jobs(job.slug)
        db.session.refresh(job)
    return job


def as_dict(job: Job) -> dict:
    return {"id": job.id, "kind": job.kind, "slug": job.slug, "state": job.state, "phase": job.phase,
            "bytes_done": job.bytes_done, "bytes_total": job.bytes_total, "files_done": job.files_done,
            "files_total": job.files_total, "message": job.message, "version": (job.params or {}).get("version"),
            "percent": percent(job), "created_at": job.created_at.isoformat() + "Z",
            "updated_at": job.updated_at.isoformat() + "Z"}


# Where each phase starts and ends on the progress bar (download, then the installer's phases).
PHASE_SPANS = {"queued": (0, 0), "download": (0, 55), "verify": (55, 60), "install": (60, 62), "validate": (62, 66),
               "extract": (66, 90), "swap": (90, 93), "migrate": (93, 96), "record": (96, 99), "done": (99, 100)}


def percent(job: Job) -> int:
    if job.state == "done":
        return 100
    start, end = PHASE_SPANS.get(job.phase, (60, 99))
    done, total = (job.bytes_done, job.bytes_total) if job.phase == "download" else (job.files_done, job.files_total)
    if total:
        return start + int((end - start) * min(done, total) / total)
    return start


def _pid_alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError, TypeError, OverflowError):
        return False
    except PermissionError:
        return True
    return True


def _dead_after() -> timedelta:
    return timedelta(seconds=float(current_app.config["JOB_DEAD_AFTER_SECONDS"]))


def _last_sign_of_life():
    return func.coalesce(Job.heartbeat_at, Job.updated_at, Job.created_at)


INTERRUPTED = _l("Interrupted: the panel stopped while this job was running.")


def kept_message(job: Job, version: str | None = None):
    """A job whose change had committed when its process stopped: done, and saying so."""
    params = job.params or {}
    return _l("%(name)s %(version)s installed; the panel stopped just before the job finished, and the change "
              "was kept.", name=params.get("name") or job.slug, version=version or params.get("version") or "?")


def _outcome(job: Job) -> tuple[str, str]:
    """What an interrupted job really did, from the install journal: committed (done) or not (failed)."""
    journal = db.session.scalars(select(InstallJournal).where(InstallJournal.job_id == job.id)
                                 .order_by(InstallJournal.id.desc())).first()
    if journal is not None and journal.done and journal.step != "failed":
        return "done", str(kept_message(job, (journal.data or {}).get("new_version")))
    if journal is not None and journal.step == "failed" and (journal.data or {}).get("reason"):
        return "failed", str(journal.data["reason"])[:1000]
    return "failed", str(INTERRUPTED)


def _end_interrupted(where) -> list[int]:
    """End the active jobs matching `where`, each with one conditional UPDATE (so two nodes, or a
    heartbeat that comes back, never both win); returns their ids and removes their files."""
    ended = []
    for job in list(db.session.scalars(select(Job).where(Job.state.in_(ACTIVE), where))):
        state, message = _outcome(job)
        done = db.session.execute(update(Job).where(Job.id == job.id, Job.state.in_(ACTIVE), where)
                                  .values(state=state, phase=state if state == "done" else job.phase,
                                          active_slug=None, message=message, updated_at=utcnow()))
        if done.rowcount:
            ended.append(job.id)
    db.session.commit()
    for job_id in ended:
        discard_files(db.session.get(Job, job_id))
    return ended


def fail_dead_jobs(slug: str | None = None) -> list[int]:
    """Jobs whose heartbeat stopped longer than JOB_DEAD_AFTER_SECONDS ago are ended (any node may do it):
    done if their change had committed, failed otherwise."""
    where = _last_sign_of_life() < utcnow() - _dead_after()
    if slug is not None:
        where = and_(where, Job.slug == slug)
    return _end_interrupted(where)


def discard_files(job: Job | None) -> None:
    """The job's downloaded package (and its .part); only names the panel made, only in the cache."""
    if job is None:
        return
    name = Path(str((job.params or {}).get("download") or "")).name
    if name.startswith("job-"):
        cache = Path(current_app.config["CACHE_PATH"])
        for leftover in (cache / name, cache / f"{name}.part"):
            leftover.unlink(missing_ok=True)


def _sweep_cache() -> None:
    """Downloads of jobs that are no longer active (a crash between download and clean-up)."""
    cache = Path(current_app.config["CACHE_PATH"])
    active = set(db.session.scalars(select(Job.id).where(Job.state.in_(ACTIVE))))
    for entry in cache.glob("job-*") if cache.is_dir() else []:
        number = entry.name[4:].split("-", 1)[0]
        if number.isascii() and number.isdigit() and int(number) not in active:
            entry.unlink(missing_ok=True)


def fail_interrupted_jobs() -> int:
    """At start-up: active jobs of a dead process on this host, and jobs whose heartbeat stopped, are
    marked failed; downloads no active job owns are removed."""
    try:
        host = socket.gethostname()
        gone = [job.id for job in db.session.scalars(select(Job).where(Job.state.in_(ACTIVE)))
                if (job.params or {}).get("host") == host and not _pid_alive((job.params or {}).get("pid"))]
        count = len(_end_interrupted(Job.id.in_(gone))) if gone else 0
        count += len(fail_dead_jobs())
        _sweep_cache()
        if count:
            log.warning("%d interrupted job(s) marked failed", count)
        return count
    except Exception:
        db.session.rollback()
        raise


def claim_run(job: Job) -> bool:
    """Queued -> running as one conditional UPDATE: true for exactly one caller, on any node."""
    claimed = db.session.execute(update(Job).where(Job.id == job.id, Job.state == "queued")
                                 .values(state="running", heartbeat_at=utcnow(), updated_at=utcnow())).rowcount
    db.session.commit()
    db.session.refresh(job)
    return bool(claimed)


@contextlib.contextmanager
def heartbeat(job_id: int):
    """While the block runs, a thread writes the job's heartbeat every JOB_HEARTBEAT_SECONDS."""
    interval = float(current_app.config["JOB_HEARTBEAT_SECONDS"])
    engine = db.engine
    stop = threading.Event()

    def beat():
        while not stop.wait(interval):
            try:
                with engine.begin() as conn:
                    conn.execute(update(Job).where(Job.id == job_id, Job.state.in_(ACTIVE))
                                 .values(heartbeat_at=utcnow()))
            except Exception:  # noqa: BLE001 — a busy database skips one beat; the bound allows several
                log.debug("heartbeat of job %s skipped", job_id, exc_info=True)

    thread = threading.Thread(target=beat, name=f"job-{job_id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(interval + 5)


# --- running --------------------------------------------------------------------------------------

def run_in_background(job: Job, work) -> None:
    """`work(job_id)` in a daemon thread with its own app context, when this process queued the job."""
    if job.state != "queued" or (job.params or {}).get("pid") != os.getpid():
        return  # already running (here or in another process)
    app = current_app._get_current_object()
    job_id = job.id

    def run():
        with app.app_context():
            work(job_id)

    thread = threading.Thread(target=run, name=f"job-{job_id}", daemon=True)
    _threads[:] = [t for t in _threads if t.is_alive()] + [thread]
    thread.start()


def wait_for_jobs(timeout: float = 30.0) -> None:
    """Tests: wait until the job threads of this process have finished."""
    for thread in list(_threads):
        thread.join(timeout)


class Progress:
    """Writes progress to the job's row, at most every PROGRESS_INTERVAL seconds (and on each phase change)."""

    def __init__(self, job: Job, echo=None):
        self.job = job
        self.echo = echo
        self.last = 0.0
        self.pending: dict = {}  # fields not written yet
        self.phase = job.phase  # known here: reading the row's after a commit would load it again

    def save(self, force: bool = False, **fields) -> None:
        changed_phase = "phase" in fields and fields["phase"] != self.phase
        now = time.monotonic()
        if not (force or changed_phase or now - self.last >= PROGRESS_INTERVAL):
            # Kept for the next write: setting ORM attributes on every chunk and file of an install
            # cost more than unpacking them (and dirtied the row each query in between flushed).
            self.pending.update(fields)
            return
        for key, value in {**self.pending, **fields}.items():
            setattr(self.job, key, value)
        self.pending.clear()
        self.phase = self.job.phase
        self.job.heartbeat_at = utcnow()
        self.last = now
        db.session.commit()
        if self.echo:
            self.echo(self.job)

    def download(self, done: int, total: int) -> None:
        self.save(bytes_done=done, bytes_total=total or self.job.bytes_total, force=bool(total) and done >= total)

    def installer(self, *args, **kwargs) -> None:
        """The installer's callback; accepts (phase, done, total) positionally or as keywords."""
        phase = kwargs.get("phase", args[0] if args else None)
        done = kwargs.get("files_done", kwargs.get("done", args[1] if len(args) > 1 else None))
        total = kwargs.get("files_total", kwargs.get("total", args[2] if len(args) > 2 else None))
        fields = {}
        if phase:
            fields["phase"] = str(phase)[:32]
        if isinstance(done, int):
            fields["files_done"] = done
        if isinstance(total, int):
            fields["files_total"] = total
        if kwargs.get("message"):
            fields["message"] = str(kwargs["message"])[:500]
        self.save(**fields)
