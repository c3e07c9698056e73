"""The install-plan resolver (pure): satisfied, missing, conflicting, cyclic and needs-newer-panel cases."""

from panel.marketplace.plans import Installed, resolve
from panel.versions import matches


def core_1(spec):
    return matches("1.0.0", spec)


def entry(slug, versions, requires=None, core=None):
    core = core or {}
    return {"slug": slug, "name": slug.title(), "requires": requires or {},
            "versions": [{"version": v, "requires_core": core.get(v, ">=1.0"), "size": 1000} for v in versions]}


def plan_for(target, catalog, installed=None, **kwargs):
    return resolve(target, {e["slug"]: e for e in catalog}, installed or {}, "1.0.0", core_1, **kwargs)


def test_dependencies_come_first_and_are_enabled():
    plan = plan_for("export", [entry("export", ["1.0.0"], {"notes": ">=1.0"}), entry("notes", ["0.9.0", "1.1.0"])])
    assert plan.ok
    assert [(s.action, s.slug, s.version) for s in plan.steps] == [("install", "notes", "1.1.0"),
                                                                    ("install", "export", "1.0.0")]
    assert all(s.enable for s in plan.steps) and plan.size == 2000


def test_a_transitive_chain_is_ordered_by_dependency():
    plan = plan_for("a", [entry("a", ["1.0"], {"b": ""}), entry("b", ["1.0"], {"c": ">=2"}), entry("c", ["2.1"])])
    assert plan.slugs == ["c", "b", "a"]


def test_a_satisfied_dependency_adds_no_step_and_a_disabled_one_is_enabled():
    catalog = [entry("export", ["1.0.0"], {"notes": ">=1.0"}), entry("notes", ["1.1.0"])]
    satisfied = plan_for("export", catalog, {"notes": Installed("1.0.0", True)})
    assert [(s.action, s.slug) for s in satisfied.steps] == [("install", "export")]
    disabled = plan_for("export", catalog, {"notes": Installed("1.0.0", False)})
    assert [(s.action, s.slug, s.version) for s in disabled.steps] == [("enable", "notes", "1.0.0"),
                                                                        ("install", "export", "1.0.0")]


def test_an_installed_dependency_too_old_is_updated():
    catalog = [entry("export", ["1.0.0"], {"notes": ">=1.1"}), entry("notes", ["1.0.0", "1.1.0"])]
    plan = plan_for("export", catalog, {"notes": Installed("1.0.0", True)})
    assert [(s.action, s.slug, s.version, s.installed) for s in plan.steps][0] == ("update", "notes", "1.1.0",
                                                                                   "1.0.0")


def test_a_module_missing_from_the_store_is_named():
    plan = plan_for("export", [entry("export", ["1.0.0"], {"notes": ">=1.0"})])
    assert not plan.ok
    problem = plan.problems[0]
    assert (problem.kind, problem.slug, problem.detail["needed_by"]) == ("missing", "notes", ["Export"])


def test_incompatible_versions_needed_by_two_modules_conflict():
    catalog = [entry("app", ["1.0"], {"left": "", "right": ""}), entry("left", ["1.0"], {"base": "<2"}),
               entry("right", ["1.0"], {"base": ">=2"}), entry("base", ["1.5", "2.0"])]
    plan = plan_for("app", catalog)
    assert [(p.kind, p.slug) for p in plan.problems] == [("conflict", "base")]
    assert sorted(plan.problems[0].detail["wanted"]) == [("<2", "Left"), (">=2", "Right")]


def test_an_installed_module_keeps_its_requirement():
    catalog = [entry("app", ["1.0"], {"base": ">=2"}), entry("base", ["1.5", "2.0"])]
    installed = {"base": Installed("1.5", True), "old": Installed("1.0", True, {"base": "<2"}, "Old")}
    plan = plan_for("app", catalog, installed)
    assert plan.problems[0].kind == "conflict"
    assert ("<2", "Old") in plan.problems[0].detail["wanted"]


def test_a_cycle_is_reported_with_its_path():
    plan = plan_for("a", [entry("a", ["1.0"], {"b": ""}), entry("b", ["1.0"], {"a": ""})])
    assert [p.kind for p in plan.problems] == ["cycle"]
    assert plan.problems[0].detail["path"] == ["A", "B", "A"]


def test_a_version_needing_a_newer_panel_says_which():
    catalog = [entry("app", ["1.0"], {"base": ">=2"}), entry("base", ["1.5", "2.0"], core={"2.0": ">=2.0"})]
    plan = plan_for("app", catalog)
    problem = plan.problems[0]
    assert (problem.kind, problem.detail["version"], problem.detail["requires_core"]) == ("core", "2.0", ">=2.0")


def test_an_explicit_version_is_followed_and_an_unknown_one_refused():
    catalog = [entry("notes", ["1.0.0", "1.1.0"])]
    assert plan_for("notes", catalog, version="1.0.0").steps[0].version == "1.0.0"
    assert plan_for("notes", catalog, version="3.0").problems[0].kind == "conflict"


def test_the_installed_newest_target_needs_nothing():
    catalog = [entry("notes", ["1.1.0"])]
    assert plan_for("notes", catalog, {"notes": Installed("1.1.0", True)}).steps == []
    assert [s.action for s in plan_for("notes", catalog, {"notes": Installed("1.1.0", False)}).steps] == ["enable"]
