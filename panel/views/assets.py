"""Front-end packages from the npm registry, served by the panel itself (no CDN)."""

from flask import Blueprint, abort, send_from_directory

from ..config import PROJECT_ROOT

STATIC = PROJECT_ROOT / "static"

bp = Blueprint("assets", __name__)

# Only these folders of installed packages are reachable.
PACKAGES = {
    "htmx": "htmx.org/dist",
    "bootstrap": "bootstrap/dist",
    "bootstrap-icons": "bootstrap-icons/font",
    "sortablejs": "sortablejs",
}
NODE_MODULES = PROJECT_ROOT / "node_modules"


@bp.get("/vendor/<package>/<path:filename>")
def vendor(package, filename):
    folder = PACKAGES.get(package)
    if folder is None:
        abort(404)
    response = send_from_directory(NODE_MODULES / folder, filename, max_age=86400)
    return response


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for /favicon.ico on a first visit whatever the page links: answer, never 404."""
    return send_from_directory(STATIC, "favicon.svg", mimetype="image/svg+xml", max_age=86400)
