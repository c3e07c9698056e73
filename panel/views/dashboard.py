"""The dashboard: counts and recent activity."""

from flask import Blueprint, render_template

from ..ui.dashboard import dashboard_context

bp = Blueprint("dashboard", __name__)


@bp.get("/")
def index():
    return render_template("dashboard/index.html", **dashboard_context())
