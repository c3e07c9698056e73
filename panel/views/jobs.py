"""`GET /jobs/<id>`: a job's progress, as a fragment that polls itself while running, or as JSON."""

from flask import Blueprint, jsonify, request

from ..services import jobs
from .rendering import page_or_fragment

bp = Blueprint("jobs", __name__, url_prefix="/jobs")
PHASES = ("queued", "download", "verify", "install", "done")


def job_context(job) -> dict:
    return {"job": job, "percent": jobs.percent(job), "active": job.state in jobs.ACTIVE,
            "version": (job.params or {}).get("version", ""), "name": (job.params or {}).get("name") or job.slug}


def wants_json() -> bool:
    """JSON only when asked for by name: htmx and browsers (`*/*`, `text/html`) get HTML."""
    if request.headers.get("HX-Request"):
        return False
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"


@bp.get("/<id:job_id>")
def show(job_id):
    if wants_json():
        try:
            job = jobs.get(job_id)
        except jobs.NotFound as exc:
            return jsonify({"error": str(exc)}), 404
        return jsonify(jobs.as_dict(job))
    job = jobs.get(job_id)
    return page_or_fragment("jobs/show.html", "partials/job_progress.html", **job_context(job))
