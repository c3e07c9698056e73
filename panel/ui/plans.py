"""The install plan dialog and the updates widget's rows, as template contexts."""

from flask_wtf.csrf import generate_csrf

from ..marketplace import plan_runs, updates
from ..marketplace.problems import describe_problem


def plan_context(slug: str, version: str | None) -> dict:
    plan = plan_runs.plan_install(slug, version)
    return {"slug": slug, "version": version or "", "plan": plan, "csrf": generate_csrf(),
            "problems": [describe_problem(p) for p in plan.problems]}


def summary_context(outcomes: list) -> dict:
    return {"outcomes": outcomes}


def widget_rows() -> list:
    return updates.offers()
