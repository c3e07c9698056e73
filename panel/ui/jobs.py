"""A job's progress (jobs/_progress.html)."""

from ..services import jobs


def job_context(job) -> dict:
    return {"job": job, "percent": jobs.percent(job), "active": job.state in jobs.ACTIVE,
            "version": (job.params or {}).get("version", ""), "name": (job.params or {}).get("name") or job.slug}
