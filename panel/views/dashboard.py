"""The dashboard: counts and recent activity."""

from flask import Blueprint, render_template

from .. import presenters

bp = Blueprint("dashboard", __name__)


@bp.get("/")
def index():
    return render_template("dashboard/index.html", **presenters.dashboard_context())
