"""A job's progress (jobs/_progress.html); a plan job shows which step runs and, once done, the sidebar."""

from flask import request

from ..marketplace import plan_runs
from ..services import jobs
from .sidebar import sidebar_html


def job_context(job) -> dict:
    params = job.params or {}
    context = {"job": job, "percent": jobs.percent(job), "active": job.state in jobs.ACTIVE,
               "version": params.get("version", ""), "name": params.get("name") or job.slug}
    if job.kind == "plan":
        steps = params.get("steps") or []
        current = min(int(params.get("current") or 0), max(len(steps) - 1, 0))
        step = steps[current] if steps else {}
        context.update(percent=plan_runs.percent(job), plan_steps=steps, plan_current=current,
                       name=step.get("name", ""), version=step.get("version", ""),
                       sidebar_oob=sidebar_html(oob=True) if job.state == "done" and request.headers.get("HX-Request") else "")
    return context
