"""Marketplace installs as jobs: pick the release, download it, verify sha256 and signature, install.

The job record and its progress are generic (panel/services/jobs.py); this is what an install job does.
"""

import logging
import os
import socket
from pathlib import Path
from typing import NamedTuple

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..errors import Conflict, NotFound, PanelError
from ..extensions import db
from ..installer import health, install_package
from ..models import Job, Module, utcnow
from ..services import jobs, licenses
from ..versions import CORE_VERSION, core_compatible, normalized
from . import catalog, signing
from .client import StoreClient

log = logging.getLogger(__name__)


def _release(slug: str, version: str | None) -> tuple[dict, dict]:
    item = catalog.entry(slug)
    if item is None:
        raise NotFound(_l("The marketplace has no module named “%(slug)s”.", slug=str(slug)[:60]))
    wanted = version or item["compatible"]
    if not wanted:
        raise Conflict(_l("No version of %(name)s works with this panel (version %(core)s).",
                          name=item["name"], core=CORE_VERSION))
    release = next((r for r in item["versions"] if r["version"] == wanted), None)
    if release is None:
        wanted_norm = normalized(wanted)
        release = next((r for r in item["versions"] if r["version"] == wanted_norm), None)
    if release is None:
        raise NotFound(_l("%(name)s has no version %(version)s.", name=item["name"], version=str(wanted)[:40]))
    if not core_compatible(release["requires_core"]):
        raise Conflict(_l("%(name)s %(version)s needs panel %(spec)s; this panel is %(core)s.", name=item["name"],
                          version=release["version"], spec=release["requires_core"], core=CORE_VERSION))
    return item, release


class Claim(NamedTuple):
    job: Job
    created: bool  # False: another press (any worker, node or command) already has an active job for this module


def create_install(slug: str, version: str | None, actor: str) -> Claim:
    """A queued install job for `slug` (its newest compatible version unless `version` is given).

    One atomic step: the job row carries `active_slug`, unique while the job is active, so of two
    concurrent presses the database lets one insert; the other is handed the winner's job."""
    item, release = _release(slug, version)
    licenses.require_install(slug, release["version"])  # licensing: refused before anything is queued
    jobs.fail_dead_jobs(slug)  # a job whose worker died must not be handed out
    running = _active_job(slug)
    if running is not None:
        return Claim(running, False)
    job = Job(kind="install", slug=slug, active_slug=slug, state="queued", phase="queued", actor=actor[:64],
              bytes_total=int(release.get("size") or 0), heartbeat_at=utcnow(),
              params={"version": release["version"], "name": item["name"], "sha256": release["sha256"],
                      "signature": release["signature"], "download_url": release["download_url"],
                      "store": catalog.store_url(), "explicit": bool(version), "pid": os.getpid(),
                      "host": socket.gethostname()})
    db.session.add(job)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        running = _active_job(slug)
        if running is None:  # the winner already finished: this press is late, not lost
            raise Conflict(_l("Another install of %(name)s just finished; check the module list.",
                              name=item["name"])) from None
        return Claim(running, False)
    return Claim(job, True)


def already_running(job: Job):
    """What the second press is told."""
    return _l("An install of %(name)s is already running (job %(id)s); this press did not start another.",
              name=(job.params or {}).get("name") or job.slug, id=job.id)


def _active_job(slug: str) -> Job | None:
    return db.session.scalars(select(Job).where(Job.active_slug == slug)).first()


def start_install(slug: str, version: str | None, actor: str) -> Claim:
    """Create the job and run it in a background thread; returns at once."""
    claim = create_install(slug, version, actor)
    if claim.created:
        jobs.run_in_background(claim.job, run_install)
    return claim


def run_install(job_id: int, echo=None) -> Job:
    """Download, verify (sha256, signature), then hand the package to the installer pipeline."""
    job = jobs.get(job_id)
    if not jobs.claim_run(job):
        return job  # another thread, process or node runs it (or it ended): never run a job twice
    params = dict(job.params or {})
    progress = jobs.Progress(job, echo)
    dest = Path(current_app.config["CACHE_PATH"]) / f"job-{job.id}-{job.slug}-{params['version']}.zip"
    job.params = {**params, "download": str(dest)}
    progress.save(force=True, phase="download", message="")
    with jobs.heartbeat(job_id):
        return _work(job, params, dest, progress)


def _work(job: Job, params: dict, dest: Path, progress: jobs.Progress) -> Job:
    job_id = job.id
    client = None
    try:
        client = StoreClient.from_config(current_app.config)
        if client.base_url != params.get("store"):
            raise PanelError(_l("The marketplace address changed since this job was queued; start it again."))
        digest, size = client.download(params["download_url"], dest,
                                       int(current_app.config["MAX_PACKAGE_BYTES"]), progress.download,
                                       headers=licenses.download_headers(job.slug))  # licensing: paid download
        progress.save(force=True, phase="verify", bytes_done=size, bytes_total=size)
        if params.get("sha256") and digest != params["sha256"]:
            raise PanelError(_l("The downloaded package does not match the catalog's checksum; it was not installed."))
        signing.verify(dest, params.get("signature") or "", client, digest)  # from the digest: no read
        progress.save(force=True, phase="install")
        replaced = db.session.get(Module, job.slug) is not None
        install_package(dest, job.actor or "system", source="marketplace", expected_slug=job.slug,
                        progress=progress.installer, allow_downgrade=bool(params.get("explicit")), job_id=job.id,
                        sha256=digest)
        db.session.rollback()  # the installer committed its own work; reload the job row
        # An update or reinstall must load and serve its entry page, else it is rolled back (issue 11).
        unhealthy = health.check_or_roll_back(job.slug, job.actor or "system", params["version"]) if replaced else None
        job = jobs.get(job_id)
        progress.job = job
        if unhealthy is not None:
            job.params = {**job.params, "rolled_back": unhealthy}
            progress.save(force=True, state="failed", message=str(_l(
                "Version %(version)s failed its health check and was rolled back: %(reason)s",
                version=params["version"], reason=unhealthy))[:1000])
            return job
        progress.save(force=True, state="done", phase="done",
                      message=str(_l("%(name)s %(version)s installed.", name=params.get("name") or job.slug,
                                     version=params["version"])))
    except PanelError as exc:
        db.session.rollback()
        job = jobs.get(job_id)
        progress.job = job
        progress.save(force=True, state="failed", message=str(exc)[:1000])
    except Exception:  # noqa: BLE001 — a job must end in a state the user can read
        log.exception("job %s failed", job_id)
        db.session.rollback()
        job = jobs.get(job_id)
        progress.job = job
        progress.save(force=True, state="failed",
                      message=str(_l("Something went wrong on the server; the error has been logged.")))
    finally:
        if client is not None:
            client.close()
        dest.unlink(missing_ok=True)
    return job
