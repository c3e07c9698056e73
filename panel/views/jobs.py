"""`GET /jobs/<id>`: a job's progress, as a fragment that polls itself while running, or as JSON."""

from flask import Blueprint, jsonify, request

from ..services import jobs
from ..ui.jobs import job_context
from ..ui.rendering import page_or_fragment

bp = Blueprint("jobs", __name__, url_prefix="/jobs")
PHASES = ("queued", "download", "verify", "install", "done")


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
    return page_or_fragment("jobs/show.html", "jobs/_progress.html", **job_context(job))
