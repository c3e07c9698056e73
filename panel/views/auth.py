"""Sign-in, sign-out, first-run set-up and the language switch."""

from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext
from flask_login import current_user, login_required, login_user, logout_user

from ..errors import Conflict, FormError
from ..extensions import db
from ..services import audit, users

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
            db.session.commit()
            login_user(user)
            return redirect(url_for("dashboard.index"))
    return render_template("auth/setup.html", errors=errors, username=username), 422 if errors else 200


@bp.route("/login", methods=["GET", "POST"])
def login():
    if not users.exists():
        return redirect(url_for("auth.setup"))
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    error, username = None, ""
    if request.method == "POST":
        username = request.form.get("username", "")
        user = users.authenticate(username, request.form.get("password", ""))
        if user is None:
            error = gettext("Wrong user name or password.")
        else:
            login_user(user, remember=bool(request.form.get("remember")))
            return redirect(safe_next(request.form.get("next") or request.args.get("next")))
    return render_template("auth/login.html", error=error, username=username,
                           next=request.args.get("next", "")), 401 if error else 200


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    return redirect(url_for("auth.login"))


@bp.post("/language")
def language():
    locale = request.form.get("locale", "")
    if locale not in current_app.config["LANGUAGES"]:
        abort(400)
    session["locale"] = locale
    if current_user.is_authenticated:
        users.set_locale(current_user, locale)
    response = redirect(safe_next(request.form.get("next")))
    if request.htmx:
        response = current_app.response_class("", 204)
        response.headers["HX-Refresh"] = "true"
    return response
