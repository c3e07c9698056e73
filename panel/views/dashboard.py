"""The dashboard: counts and recent activity."""

from flask import Blueprint, render_template
from flask_login import current_user

from ..marketplace import updates
from ..ui.dashboard import dashboard_context, updates_widget_context

bp = Blueprint("dashboard", __name__)


@bp.get("/")
def index():
    return render_template("dashboard/index.html", **dashboard_context())


@bp.post("/updates/all")
def update_all():
    """Apply every offered update; the widget again, with what happened to each module."""
    outcomes = updates.update_all(current_user.username)
    return render_template("dashboard/_updates_widget.html", outcomes=outcomes, **updates_widget_context())
