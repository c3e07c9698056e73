"""Sign-in, sign-out, first-run set-up and the language switch."""

from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext
from flask_login import current_user, login_required, login_user, logout_user

from ..errors import Conflict, FormError
from ..services import audit, sessions, sign_in, users

bp = Blueprint("auth", __name__)


def safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("dashboard.index")


@bp.route("/setup", methods=["GET", "POST"])
def setup():
    if users.exists():
        return redirect(url_for("auth.login"))
    errors, username = {}, ""
    if request.method == "POST":
        username = request.form.get("username", "")
        try:
            user = users.create(username, request.form.get("password", ""), request.form.get("confirm", ""))
        except FormError as exc:
            errors = exc.errors
        except Conflict:
            return redirect(url_for("auth.login"))
        else:
            audit.record(user.username, "setup")
            sessions.start(user, remember=False, address=request.remote_addr or "")  # commits
            login_user(user)
            return redirect(url_for("dashboard.index"))
    return render_template("auth/setup.html", errors=errors, username=username), 422 if errors else 200


@bp.route("/login", methods=["GET", "POST"])
def login():
    if not users.exists():
        return redirect(url_for("auth.setup"))
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    error, username, status, headers = None, "", 200, {}
    if request.method == "POST":
        username = request.form.get("username", "")
        remember = bool(request.form.get("remember"))
        try:
            user = sign_in.sign_in(username, request.form.get("password", ""), request.remote_addr or "", remember)
        except sign_in.Throttled as exc:
            error, status = gettext("Too many failed sign-ins; wait %(n)s seconds, then try again.",
                                    n=exc.seconds), 429
            headers["Retry-After"] = str(exc.seconds)
        else:
            if user is not None:
                login_user(user, remember=remember)
                return redirect(safe_next(request.form.get("next") or request.args.get("next")))
            error, status = gettext("Wrong user name or password."), 401
    return render_template("auth/login.html", error=error, username=username,
                           next=request.args.get("next", "")), status, headers


@bp.post("/logout")
@login_required
def logout():
    sessions.end(current_user.session_token)
    logout_user()
    return redirect(url_for("auth.login"))


@bp.post("/logout/everywhere")
@login_required
def logout_everywhere():
    sessions.end_all(current_user)
    logout_user()
    flash(gettext("You are signed out on every browser and device."), "success")
    return redirect(url_for("auth.login"))


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    errors, status = {}, 200
    if request.method == "POST":
        user = users.row(current_user.id)
        try:
            users.change_password(user, request.form.get("current", ""), request.form.get("password", ""),
                                  request.form.get("confirm", ""))
        except FormError as exc:
            errors, status = exc.errors, 422
        else:
            # Every other session ended with the old password; this browser goes on in a new one.
            sessions.start(user, remember=False, address=request.remote_addr or "")
            login_user(user)
            flash(gettext("Password changed; every other session is signed out."), "success")
            return redirect(url_for("auth.account"))
    return render_template("auth/account.html", errors=errors,
                           sessions=sessions.count(current_user)), status


@bp.post("/language")
def language():
    locale = request.form.get("locale", "")
    if locale not in current_app.config["LANGUAGES"]:
        abort(400)
    session["locale"] = locale
    if current_user.is_authenticated:
        users.set_locale(current_user.id, locale)
    response = redirect(safe_next(request.form.get("next")))
    if request.htmx:
        response = current_app.response_class("", 204)
        response.headers["HX-Refresh"] = "true"
    return response
