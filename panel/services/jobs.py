"""Jobs: long work whose progress lives in the `jobs` table (what each kind does lives beside its
area, e.g. marketplace installs in panel/marketplace/jobs.py).

A job runs in a background thread with its own app context; every phase and byte count is
written to its row, so any worker can answer `GET /jobs/<id>`.
"""

import logging
import os
import socket
import threading
import time
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..errors import NotFound
from ..extensions import db
from ..models import Job

log = logging.getLogger(__name__)
ACTIVE = ("queued", "running")
PROGRESS_INTERVAL = 0.2
_threads: list[threading.Thread] = []


def get(job_id) -> Job:
    job = db.session.get(Job, job_id) if isinstance(job_id, int) and 0 < job_id < 2**63 else None
    if job is None:
        raise NotFound(_l("There is no job number %(id)s.", id=str(job_id)[:20]))
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
    except (ProcessLookupError, ValueError, TypeError):
        return False
    except PermissionError:
        return True
    return True


def fail_interrupted_jobs() -> int:
    """At start-up: jobs still queued or running whose process is gone are marked failed and cleaned up."""
    try:
        host = socket.gethostname()
        count = 0
        for job in db.session.scalars(select(Job).where(Job.state.in_(ACTIVE))):
            params = job.params or {}
            if params.get("host") == host and params.get("pid") and _pid_alive(params["pid"]):
                continue  # its process still runs it
            job.state, job.message = "failed", str(_l("Interrupted: the panel stopped while this job was running."))
            for name in (params.get("download"), f"{params.get('download')}.part"):
                if name and Path(name).name.startswith("job-"):
                    Path(current_app.config["CACHE_PATH"], Path(name).name).unlink(missing_ok=True)
            count += 1
        if count:
            db.session.commit()
            log.warning("%d interrupted job(s) marked failed", count)
        return count
    except Exception:
        db.session.rollback()
        raise


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

    def save(self, force: bool = False, **fields) -> None:
        changed_phase = "phase" in fields and fields["phase"] != self.job.phase
        for key, value in fields.items():
            setattr(self.job, key, value)
        now = time.monotonic()
        if force or changed_phase or now - self.last >= PROGRESS_INTERVAL:
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
