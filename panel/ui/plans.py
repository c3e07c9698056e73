"""The install plan dialog and the updates widget's rows, as template contexts."""

from ..marketplace import plan_runs, updates
from ..marketplace.problems import describe_problem
from .fragments import request_token


def plan_context(slug: str, version: str | None) -> dict:
    plan = plan_runs.plan_install(slug, version)
    return {"slug": slug, "version": version or "", "plan": plan, "csrf": request_token(),
            "problems": [describe_problem(p) for p in plan.problems]}


def summary_context(outcomes: list) -> dict:
    return {"outcomes": outcomes}


def widget_rows() -> list:
    return updates.offers()
