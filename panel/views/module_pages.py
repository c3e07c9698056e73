"""`/m/<slug>/…`: pages of enabled modules, routed to each module's own URL map.

Flask forbids `register_blueprint` after the first request, so modules never register
blueprints: this one route looks the module up in the registry (kept in step with the
database on every request) and dispatches to the view the module declared.
"""

from flask import Blueprint, abort, make_response, request, send_from_directory
from werkzeug.exceptions import MethodNotAllowed, NotFound

from ..runtime import PAGES_PREFIX, pages_root
from ..services.modules import registry

bp = Blueprint("module_pages", __name__, url_prefix=PAGES_PREFIX)
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def loaded_or_404(slug):
    loaded = registry().get(slug)
    if loaded is None:
        abort(404)
    return loaded


@bp.route("/<slug>/static/<path:filename>")
def static(slug, filename):
    loaded = loaded_or_404(slug)
    return send_from_directory(loaded.path / "static", filename, max_age=300)


@bp.route("/<slug>/", defaults={"rest": ""}, methods=METHODS)
@bp.route("/<slug>/<path:rest>", methods=METHODS)
def dispatch(slug, rest):
    loaded = loaded_or_404(slug)
    adapter = loaded.api.url_map.bind("", script_name=pages_root(slug))
    try:
        endpoint, args = adapter.match("/" + rest, method=request.method)
    except NotFound:
        abort(404)
    except MethodNotAllowed:
        abort(405)
    return make_response(loaded.api.views[endpoint](**args))
