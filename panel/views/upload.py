"""Upload a module package, read its validation report, then install, replace, downgrade or cancel."""

from flask import Blueprint, current_app, flash, make_response, redirect, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..errors import FormError
from ..installer import inspect_package, install_package, pending
from ..ui.rendering import page_or_fragment
from ..ui.upload import report_context

bp = Blueprint("upload", __name__, url_prefix="/modules")
FORM_OVERHEAD = 1024 * 1024


def _go_to_modules():
    """After a decision: back to the list (a full navigation, so the flash shows as a toast)."""
    target = url_for("modules.index")
    if request.htmx:
        response = make_response("", 204)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target, 303)


@bp.post("/upload")
def upload():
    limit = int(current_app.config["MAX_PACKAGE_BYTES"])
    request.max_content_length = limit + FORM_OVERHEAD
    file = request.files.get("package")
    if file is None or not file.filename:
        raise FormError({"package": _l("Choose a module package (.zip) to upload.")})
    token, path = pending.receive(file.stream, limit)
    try:
        report = inspect_package(path)
    except BaseException:
        pending.discard(token)
        raise
    filename = (file.filename or "")[:120]  # shown only; never used on disk
    pending.remember(token, {"slug": report.slug, "version": report.version, "actor": current_user.username,
                             "filename": filename, "sha256": report.sha256})
    context = report_context(report, token, filename)
    return page_or_fragment("upload/report.html", "upload/_report.html", **context)


@bp.post("/upload/<token>/install")
def confirm(token):
    path, meta = pending.claim(token)  # a second press (double-click, other tab or worker) is told, not run
    try:
        report = inspect_package(path, sha256=meta.get("sha256"))  # hashed at upload: not read whole again
        if report.comparison == "downgrade" and not request.form.get("confirm_downgrade"):
            raise FormError({"confirm_downgrade": _l("Tick the box to confirm installing an older version.")})
        module = install_package(path, current_user.username, source="upload",
                                 allow_downgrade=report.comparison == "downgrade", expected_slug=meta.get("slug"),
                                 sha256=report.sha256)
    except BaseException:
        pending.release(token)
        raise
    pending.discard(token)
    if report.current is None:
        flash(gettext("%(name)s %(version)s is installed; enable it when you are ready.", name=module.name,
                      version=module.version), "success")
    else:
        flash(gettext("%(name)s was replaced: %(old)s → %(new)s.", name=module.name, old=report.current.version,
                      new=module.version), "success")
    return _go_to_modules()


@bp.post("/upload/<token>/cancel")
def cancel(token):
    pending.discard(token)
    flash(gettext("The upload was discarded; nothing was installed."), "info")
    return _go_to_modules()
