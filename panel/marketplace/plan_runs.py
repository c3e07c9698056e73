"""Running an install plan: one job per module in dependency order, under one plan job.

The plan job (`Job.kind == "plan"`) holds the steps in `params["steps"]` and which one runs in
`params["current"]`; its phase and bytes mirror the running step's install job, so one progress
view (`GET /jobs/<plan id>`) follows the whole plan. When a step fails, everything the plan
changed is undone in reverse order — what it enabled is disabled, what it installed uninstalled,
what it updated rolled back — and the message names the step and the reason.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import asdict

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..errors import PanelError
from ..extensions import db
from ..installer import rollback, uninstall
from ..models import Job, Module
from ..services import dependencies, jobs
from ..services import modules as modules_service
from ..versions import CORE_VERSION, core_compatible
from . import catalog
from . import jobs as install_jobs
from .plans import ENABLE, INSTALL, UPDATE, Installed, Plan, resolve

log = logging.getLogger(__name__)


def installed_state() -> dict[str, Installed]:
    rows = db.session.execute(select(Module.slug, Module.name, Module.version, Module.state, Module.manifest))
    return {r.slug: Installed(r.version, r.state == "enabled", dict((r.manifest or {}).get("requires") or {}), r.name)
            for r in rows}


def plan_install(slug: str, version: str | None = None) -> Plan:
    """The plan that installs `slug` with all it needs, against the cached catalog and what is installed."""
    return resolve(slug, catalog.Entries(), installed_state(), CORE_VERSION, core_compatible,
                   version=version)


def create(plan: Plan, actor: str) -> Job:
    # No `slug`: an install job for the same module must not take the plan job for itself.
    job = Job(kind="plan", slug=None, state="queued", phase="queued", actor=actor[:64],
              bytes_total=plan.size, files_total=len(plan.steps),
              params={"steps": [asdict(step) for step in plan.steps], "current": 0, "changes": [], "target": plan.target,
                      "name": plan.steps[-1].name if plan.steps else plan.target,
                      "version": plan.steps[-1].version if plan.steps else "",
                      "pid": os.getpid(), "host": socket.gethostname()})
    db.session.add(job)
    db.session.commit()
    return job


def start(plan: Plan, actor: str) -> Job:
    job = create(plan, actor)
    jobs.run_in_background(job, run)
    return job


def percent(job: Job) -> int:
    """The whole plan's progress: finished steps plus the running step's share."""
    total = len((job.params or {}).get("steps") or []) or 1
    if job.state == "done":
        return 100
    current = int((job.params or {}).get("current") or 0)
    return min(99, int((current * 100 + jobs.percent(job)) / total))


def _save(job_id: int, **fields) -> Job:
    job = jobs.get(job_id)
    params = dict(job.params or {})
    params.update(fields.pop("params", {}))
    job.params = params
    for key, value in fields.items():
        setattr(job, key, value)
    db.session.commit()
    return job


def _mirror(plan_id: int, echo):
    """A child job's progress callback that copies its phase and bytes to the plan job."""
    def copy(child: Job) -> None:
        db.session.execute(Job.__table__.update().where(Job.id == plan_id).values(
            phase=child.phase, bytes_done=child.bytes_done, files_done=child.files_done))
        db.session.commit()
        if echo:
            echo(child)
    return copy


def _run_step(plan_id: int, step: dict, actor: str, echo) -> tuple[list, str | None]:
    """One step; what it changed (for undoing) and why it failed (None when it worked)."""
    changes, slug = [], step["slug"]
    before = db.session.get(Module, slug, populate_existing=True)
    was_enabled = before is not None and before.state == "enabled"
    if step["action"] in (INSTALL, UPDATE):
        claim = install_jobs.create_install(slug, step["version"], actor)
        if not claim.created:  # another press, worker or command is installing this module right now
            return changes, str(install_jobs.already_running(claim.job))
        child = install_jobs.run_install(claim.job.id, echo=_mirror(plan_id, echo))
        if child.state != "done":
            return changes, child.message
        changes.append({"undo": "uninstall" if step["action"] == INSTALL else "rollback", "slug": slug})
    if step.get("enable", True) and not was_enabled:
        module = modules_service.enable(slug, actor)
        if module.state != "enabled":
            return changes, module.error or str(_l("%(name)s could not be enabled.", name=step["name"]))
        changes.append({"undo": "disable", "slug": slug})
    return changes, None


def _undo(changes: list, actor: str) -> list[str]:
    """Undo in reverse order; what could not be undone, as sentences."""
    left = []
    for change in reversed(changes):
        try:
            db.session.rollback()
            if change["undo"] == "disable":
                modules_service.disable(change["slug"], actor)
            elif change["undo"] == "uninstall":
                uninstall(change["slug"], actor)
            else:
                rollback(change["slug"], actor)
        except PanelError as exc:
            left.append(f"{change['slug']}: {exc}")
    return left


def _describe(step: dict) -> str:
    texts = {INSTALL: _l("installing %(name)s %(version)s", name=step["name"], version=step["version"]),
             UPDATE: _l("updating %(name)s to %(version)s", name=step["name"], version=step["version"]),
             ENABLE: _l("enabling %(name)s", name=step["name"])}
    return str(texts[step["action"]])


def run(job_id: int, echo=None) -> Job:
    job = _save(job_id, state="running", phase="download")
    steps, actor, changes = list(job.params["steps"]), job.actor or "system", []
    for index, step in enumerate(steps):
        _save(job_id, params={"current": index}, phase="queued", bytes_done=0, files_done=0)
        try:
            made, reason = _run_step(job_id, step, actor, echo)
        except PanelError as exc:
            db.session.rollback()
            made, reason = [], str(exc)
        except Exception:  # noqa: BLE001 — a plan must end in a state the user can read
            log.exception("plan %s step %s failed", job_id, index)
            db.session.rollback()
            made, reason = [], str(_l("Something went wrong on the server; the error has been logged."))
        changes += made
        if reason is not None:
            left = _undo(changes, actor)
            message = _l("Step %(number)s of %(total)s (%(step)s) failed: %(reason)s", number=index + 1,
                         total=len(steps), step=_describe(step), reason=reason)
            tail = (_l("Everything this plan changed was undone.") if not left else
                    _l("Could not undo: %(left)s", left="; ".join(left)))
            return _save(job_id, state="failed", phase="done", message=f"{message} {tail}"[:1000],
                         params={"failed_step": index})
        _save(job_id, params={"changes": changes})
    names = [f"{s['name']} {s['version']}" for s in steps]
    return _save(job_id, state="done", phase="done", params={"current": len(steps)},
                 message=str(_l("Done: %(names)s.", names=", ".join(names)) if names else
                             _l("Nothing needed doing.")))


def disabled_dependencies(slug: str) -> list:
    """Installed but disabled modules `slug` needs, in the order to enable them (for the enable dialog)."""
    modules_service.get(slug)  # NotFound for a module that is not installed
    plan = resolve(slug, {}, installed_state(), CORE_VERSION, core_compatible, enable_target=False)
    return [s for s in plan.steps if s.action == ENABLE]


def all_dependants(slug: str) -> list:
    """Enabled modules that need `slug`, directly or through another, innermost last (disable order)."""
    found, queue = [], [slug]
    for _ in range(1000):
        if not queue:
            break
        for row in dependencies.dependants(queue.pop(0)):
            if row.slug not in [f.slug for f in found]:
                found.append(row)
                queue.append(row.slug)
    return list(reversed(found))
