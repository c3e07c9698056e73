"""The marketplace: browse the cached catalog, module cards with tabs, changelogs, install jobs."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from ..marketplace import catalog
from ..marketplace import jobs as install_jobs
from ..marketplace import plan_runs
from ..services import modules as modules_service
from ..ui import marketplace as mp
from ..ui.jobs import job_context
from ..ui.plans import plan_context
from ..ui.rendering import page_or_fragment, wants_fragment

bp = Blueprint("marketplace", __name__, url_prefix="/marketplace")


@bp.get("")
def index():
    context = mp.marketplace_context(mp.clean_filters(request.args))
    return page_or_fragment("marketplace/index.html", "marketplace/_results.html", **context)


@bp.post("/refresh")
def refresh():
    result = catalog.refresh()
    filters = mp.clean_filters(request.form)
    if not request.htmx:
        messages = {"updated": gettext("Catalog updated just now."), "unchanged": gettext("Catalog unchanged.")}
        flash(messages.get(result.status, result.message), "danger" if result.status == "failed" else "success")
        return redirect(url_for("marketplace.index", **mp.filter_args(filters)))
    return render_template("marketplace/_results.html", **mp.marketplace_context(filters, refresh_result=result))


@bp.get("/whats-new")
def whats_new():
    return render_template("marketplace/whats_new.html", **mp.whats_new_context())


@bp.get("/<slug>")
def detail(slug):
    tab = request.args.get("tab", "description")
    context = mp.detail_context(slug, tab, network=wants_fragment())
    if context is None:
        abort(404)
    return page_or_fragment("marketplace/detail.html", "marketplace/_tabs.html", **context)


@bp.get("/<slug>/changes")
def changes(slug):
    installed = modules_service.get(slug)
    context = mp.changes_context(slug, installed.version)
    return page_or_fragment("marketplace/changes.html", "marketplace/_changes_modal.html", **context)


@bp.post("/<slug>/install")
def install(slug):
    job, created = install_jobs.start_install(slug, (request.form.get("version") or "").strip()[:64] or None,
                                              current_user.username)
    notice = None if created else str(install_jobs.already_running(job))
    if not request.htmx:
        if notice:
            flash(notice, "info")
        return redirect(url_for("jobs.show", job_id=job.id))
    return render_template("jobs/_progress.html", **job_context(job), notice=notice)


# --- install plans (issue 11): the dialog, then one job for the whole plan ---------------------------

def _version_field() -> str | None:
    return (request.form.get("version") or "").strip()[:64] or None


@bp.post("/<slug>/plan")
def plan(slug):
    """The plan dialog: what installing `slug` takes, or why it cannot be done (changes nothing)."""
    return render_template("marketplace/_plan_dialog.html", **plan_context(slug, _version_field()))


@bp.post("/<slug>/plan/run")
def run_plan(slug):
    """The administrator confirmed: resolve again (things may have changed) and run it as one job."""
    context = plan_context(slug, _version_field())
    if not context["plan"].ok or not context["plan"].steps:
        return render_template("marketplace/_plan_dialog.html", **context), 409
    job = plan_runs.start(context["plan"], current_user.username)
    if not request.htmx:
        return redirect(url_for("jobs.show", job_id=job.id))
    return render_template("jobs/_progress.html", **job_context(job))
