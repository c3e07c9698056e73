"""Why a plan cannot be done, in one sentence per problem (the dialog and the command line share them)."""

from flask_babel import lazy_gettext as _l

from .plans import Problem


def describe_problem(problem: Problem) -> str:
    d = problem.detail
    if problem.kind == "missing":
        return str(_l("%(name)s is not in the marketplace (needed by %(by)s).", name=d.get("name") or problem.slug,
                      by=", ".join(d.get("needed_by") or []) or problem.slug))
    if problem.kind == "cycle":
        return str(_l("These modules require each other in a loop: %(path)s.", path=" → ".join(d.get("path") or [])))
    if problem.kind == "core":
        return str(_l("%(name)s %(version)s needs panel %(spec)s; this panel is %(core)s.",
                      name=d.get("name") or problem.slug, version=d.get("version", ""),
                      spec=d.get("requires_core", ""), core=d.get("core", "")))
    wanted = "; ".join(f"{by} needs {spec}" for spec, by in d.get("wanted") or [])
    if d.get("version") and not wanted:
        return str(_l("%(name)s has no version %(version)s.", name=d.get("name") or problem.slug,
                      version=d["version"]))
    return str(_l("No version of %(name)s satisfies every module that needs it (%(wanted)s).",
                  name=d.get("name") or problem.slug, wanted=wanted))
