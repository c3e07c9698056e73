"""`/license`: the key, the coupon form, "Check now"; a trial from the marketplace; and, on each
signed-in request, the offline check that disables modules whose license ended (and the daily refresh)."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext
from flask_login import current_user

from ..errors import PanelError
from ..licensing.keys import KeyFormatError
from ..marketplace import catalog
from ..marketplace import licenses as store_licenses
from ..services import license_expiry
from ..ui.license import license_context

bp = Blueprint("license", __name__)
UNCHECKED = {"static", "assets.vendor"}


@bp.before_app_request
def check_license():
    """Against the clock, with no network: a paid module whose entitlement ended is disabled now."""
    if request.endpoint in UNCHECKED or not current_user.is_authenticated:
        return
    license_expiry.enforce()
    store_licenses.refresh_in_background()


def _page(status: int = 200, **errors):
    return render_template("license/index.html", **license_context(**errors)), status


def _names(slugs) -> str:
    return ", ".join((catalog.entry(slug) or {}).get("name", slug) for slug in slugs)


@bp.get("/license")
def index():
    return _page()


@bp.post("/license")
def activate():
    typed = (request.form.get("key") or "")[:80]
    try:
        body = store_licenses.activate(typed)
    except (KeyFormatError, PanelError) as exc:
        return _page(getattr(exc, "status", 400), key_error=str(exc), key_value=typed)
    flash(gettext("License activated for %(owner)s.", owner=(body.get("claims") or {}).get("owner", "")), "success")
    return redirect(url_for("license.index"), 303)


@bp.post("/license/coupon")
def coupon():
    typed = (request.form.get("code") or "")[:80]
    try:
        body = store_licenses.redeem(typed)
    except (KeyFormatError, PanelError) as exc:
        return _page(getattr(exc, "status", 400), coupon_error=str(exc), coupon_value=typed)
    added = (body.get("added") or {})
    slugs, days = added.get("modules") or [], added.get("days")
    if slugs and days:
        message = ngettext("Coupon accepted: it added %(modules)s for %(num)s day.",
                           "Coupon accepted: it added %(modules)s for %(num)s days.", days, modules=_names(slugs))
    elif slugs:
        message = gettext("Coupon accepted: it added %(modules)s.", modules=_names(slugs))
    else:
        message = ngettext("Coupon accepted: it added %(num)s day.", "Coupon accepted: it added %(num)s days.", days or 0)
    flash(message, "success")
    return redirect(url_for("license.index"), 303)


@bp.post("/license/refresh")
def refresh():
    """ "Check now": the store's answer replaces the token at once (on every worker: it is in the database)."""
    store_licenses.refresh()
    flash(gettext("The license was checked with the store just now."), "success")
    return redirect(url_for("license.index"), 303)


@bp.post("/marketplace/<slug>/trial")
def trial(slug):
    """Start the store-recorded trial of a paid module (once per license and module)."""
    entry = catalog.entry(slug)
    name = entry["name"] if entry else slug
    back = redirect(url_for("marketplace.detail", slug=slug) if entry else url_for("marketplace.index"), 303)
    try:
        body = store_licenses.start_trial(slug)
    except PanelError as exc:
        flash(str(exc), "danger")
        return back
    days = (body.get("trial") or {}).get("days") or 0
    flash(ngettext("The trial of %(name)s started: %(num)s day left.", "The trial of %(name)s started: %(num)s days left.",
                   days, name=name), "success")
    return back
