"""Plans, Update all, health checks, pin/skip and auto-update against the hub on a loopback port."""

import json
import shutil

import pytest
from sqlalchemy import select

from conftest import SOURCES
from panel.extensions import db
from panel.marketplace import catalog, plan_runs, updates
from panel.models import AuditEvent, Module
from panel.services import modules as modules_service

RELEASES = SOURCES.parent / "releases"


def with_samples(hub_server, tmp_path, extra: dict):
    """The hub's samples plus test modules: {slug: (manifest, code, [versions])}."""
    sources, releases = tmp_path / "sources", tmp_path / "releases"
    shutil.copytree(SOURCES, sources)
    shutil.copytree(RELEASES, releases)
    for slug, (manifest, code, versions) in extra.items():
        (sources / slug).mkdir()
        (sources / slug / "module.json").write_text(json.dumps(
            {"slug": slug, "name": slug.replace("_", " ").title(), "version": versions[0][0],
             "requires_core": ">=1.0", **manifest}))
        (sources / slug / "__init__.py").write_text(code)
        (releases / f"{slug}.json").write_text(json.dumps({"versions": [
            {"version": v, "date": "2025-01-01", "requires_core": core, "notes": f"Release {v}."}
            for v, core in versions]}))
    store = hub_server.store
    store.sources, store.releases, store._entries, store._catalog = sources, releases, None, None


PAGE = "def setup(api):\n    @api.page('/')\n    def index():\n        return 'fine'\n"
# Healthy in 1.0.0, its page raises in 1.1.0: the update must be rolled back.
FRAGILE = ("def setup(api):\n    @api.page('/')\n    def index():\n"
           "        if api.manifest.get('version') == '1.1.0':\n            raise RuntimeError('broken on purpose')\n"
           "        return 'fine'\n")


def refreshed(app):
    assert catalog.refresh().status in ("updated", "unchanged")


def install(app, slug, version=None):
    plan = plan_runs.plan_install(slug, version)
    assert plan.ok, plan.problems
    return plan_runs.run(plan_runs.create(plan, "test").id)


def state(slug):
    module = db.session.get(Module, slug, populate_existing=True)
    return (module.version, module.state) if module else None


def test_notes_export_plan_installs_and_enables_notes_first(app, hub_server):
    with app.app_context():
        refreshed(app)
        plan = plan_runs.plan_install("notes_export")
        assert [(s.action, s.slug, s.version) for s in plan.steps] == [("install", "notes", "1.1.0"),
                                                                        ("install", "notes_export", "1.0.0")]
        job = plan_runs.run(plan_runs.create(plan, "test").id)
        assert job.state == "done", job.message
        assert state("notes") == ("1.1.0", "enabled") and state("notes_export") == ("1.0.0", "enabled")
        assert plan_runs.plan_install("notes_export").steps == []


def test_plans_that_cannot_be_done_say_why(app, hub_server, tmp_path):
    with_samples(hub_server, tmp_path, {
        "lonely": ({"requires": {"ghost": ">=1"}}, PAGE, [("1.0.0", ">=1.0")]),
        "ping": ({"requires": {"pong": ""}}, PAGE, [("1.0.0", ">=1.0")]),
        "pong": ({"requires": {"ping": ""}}, PAGE, [("1.0.0", ">=1.0")]),
        "futurist": ({"requires": {"hello": ">=2"}}, PAGE, [("1.0.0", ">=1.0")]),
        "old_school": ({"requires": {"notes": "<1.0"}}, PAGE, [("1.0.0", ">=1.0")]),
    })
    with app.app_context():
        refreshed(app)
        kinds = {slug: [p.kind for p in plan_runs.plan_install(slug).problems]
                 for slug in ("lonely", "ping", "futurist")}
        assert kinds == {"lonely": ["missing"], "ping": ["cycle"], "futurist": ["core"]}
        with_notes = plan_runs.plan_install("notes_export")
        assert with_notes.ok
        conflict = plan_runs.resolve("x", {"x": {"name": "X", "requires": {"notes": ">=1.0", "old_school": ""},
                                                 "versions": [{"version": "1.0", "requires_core": ""}]},
                                           **{slug: catalog.entry(slug) for slug in ("notes", "old_school", "hello")}},
                                     {}, "1.0.0", lambda spec: True)
        assert [p.kind for p in conflict.problems] == ["conflict"]


def test_a_plan_whose_second_step_fails_leaves_everything_as_before(app, hub_server, tmp_path):
    with_samples(hub_server, tmp_path, {
        "needy": ({"requires": {"notes": ">=1.0"}}, "raise ImportError('no such thing')\n", [("1.0.0", ">=1.0")]),
    })
    with app.app_context():
        refreshed(app)
        job = install(app, "needy")
        assert job.state == "failed"
        assert "Step 2 of 2" in job.message and "Needy" in job.message and "undone" in job.message
        assert state("notes") is None and state("needy") is None


def test_enable_offers_the_disabled_dependency_and_disable_names_dependants(app, hub_server):
    with app.app_context():
        refreshed(app)
        install(app, "notes_export")
        assert [m.slug for m in plan_runs.all_dependants("notes")] == ["notes_export"]
        modules_service.disable("notes_export", "test")
        modules_service.disable("notes", "test")
        assert [s.slug for s in plan_runs.disabled_dependencies("notes_export")] == ["notes"]


def test_update_all_rolls_back_a_failing_health_check_and_updates_the_others(app, hub_server, tmp_path):
    with_samples(hub_server, tmp_path, {
        "fragile": ({}, FRAGILE, [("1.0.0", ">=1.0"), ("1.1.0", ">=1.0")]),
    })
    with app.app_context():
        refreshed(app)
        install(app, "notes", "1.0.0")
        install(app, "fragile", "1.0.0")
        outcomes = {o.slug: o for o in updates.update_all("test")}
        assert outcomes["notes"].result == "updated" and state("notes") == ("1.1.0", "enabled")
        assert outcomes["fragile"].result == "rolled_back" and "broken on purpose" in outcomes["fragile"].reason
        assert state("fragile") == ("1.0.0", "enabled")
        assert "1.1.0 failed its health check" in db.session.get(Module, "fragile").error
        assert db.session.scalar(select(AuditEvent.detail).where(AuditEvent.action == "health_check_failed"))


def test_the_widget_tells_newer_incompatible_versions_and_their_reason(app, hub_server):
    with app.app_context():
        refreshed(app)
        install(app, "hello", "1.0.0")
        offer = next(o for o in updates.offers() if o.slug == "hello")
        assert (offer.version, offer.between, offer.blocked) == ("1.2.0", ["1.2.0"], "2.0.0")
        assert offer.blocked_reason == "2.0.0 needs panel >=2.0"


def test_pinned_and_skipped_versions_are_neither_offered_nor_applied(app, hub_server):
    with app.app_context():
        refreshed(app)
        install(app, "notes", "1.0.0")
        install(app, "hello", "1.0.0")
        updates.set_policy("notes", "test", pinned=True)
        updates.set_policy("hello", "test", skipped_version="1.2.0")
        assert not any(o.offered for o in updates.offers())
        outcomes = {o.slug: o.result for o in updates.update_all("test")}
        assert outcomes == {"hello": "skipped", "notes": "skipped"}
        assert state("notes")[0] == "1.0.0" and state("hello")[0] == "1.0.0"


def test_auto_update_applies_a_minor_update_and_not_a_major_one(app, hub_server, tmp_path):
    with_samples(hub_server, tmp_path, {
        "leaps": ({}, PAGE, [("1.0.0", ">=1.0"), ("2.0.0", ">=1.0")]),
    })
    with app.app_context():
        refreshed(app)
        install(app, "notes", "1.0.0")
        install(app, "leaps", "1.0.0")
        updates.set_policy("notes", "test", auto_update=True)
        updates.set_policy("leaps", "test", auto_update=True)
        refreshed(app)  # auto-update runs after each refresh
        assert state("notes")[0] == "1.1.0" and state("leaps")[0] == "1.0.0"


# --- the pages ------------------------------------------------------------------------------------

def test_plan_dialog_then_one_progress_view_then_update_all_summary(app, admin_client, hub_server):
    from conftest import htmx_post
    from panel.services import jobs

    with app.app_context():
        refreshed(app)
    dialog = htmx_post(admin_client, "/marketplace/notes_export/plan").get_data(as_text=True)
    first, second = '<li data-slug="notes" data-action="install">', '<li data-slug="notes_export" data-action="install">'
    assert first in dialog and second in dialog and dialog.index(first) < dialog.index(second)
    response = htmx_post(admin_client, "/marketplace/notes_export/plan/run")
    assert response.status_code == 200 and "job-progress" in response.get_data(as_text=True)
    jobs.wait_for_jobs()
    job_id = int(response.get_data(as_text=True).split('data-job-id="')[1].split('"')[0])
    done = admin_client.get(f"/jobs/{job_id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'data-job-state="done"' in done and "hx-get" not in done.split("</div>")[0]
    assert 'id="sidebar"' in done and "Notes export" in done  # the sidebar, out of band
    assert admin_client.get(f"/jobs/{job_id}", headers={"Accept": "application/json"}).json["state"] == "done"
    with app.app_context():
        assert state("notes")[1] == "enabled" and state("notes_export")[1] == "enabled"
        install(app, "hello", "1.0.0")
    page = admin_client.get("/").get_data(as_text=True)
    assert "2.0.0 needs panel &gt;=2.0" in page and "Update all" in page
    summary = htmx_post(admin_client, "/updates/all").get_data(as_text=True)
    assert 'data-slug="hello" data-result="updated"' in summary


def test_a_plan_that_cannot_be_done_shows_why_and_offers_no_confirmation(app, admin_client, hub_server):
    from conftest import htmx_post

    with app.app_context():
        refreshed(app)
    dialog = htmx_post(admin_client, "/marketplace/hello/plan", {"version": "2.0.0"}).get_data(as_text=True)
    assert "needs panel" in dialog and "mp-plan-confirm" not in dialog


def test_the_settings_page_holds_skips_and_auto_updates(app, admin_client):
    from conftest import htmx_post, install_sample

    install_sample(app, "hello")
    assert 'id="update-policy"' in admin_client.get("/modules/hello/settings").get_data(as_text=True)
    bad = htmx_post(admin_client, "/modules/hello/updates", {"skipped_version": "not a version"})
    assert bad.status_code == 422 and "is not a version number" in bad.get_data(as_text=True)
    saved = htmx_post(admin_client, "/modules/hello/updates", {"pinned": "1", "skipped_version": "2.0.0"})
    assert saved.status_code == 200 and "Saved." in saved.get_data(as_text=True)
    with app.app_context():
        rule = updates.policy("hello")
        assert (rule.pinned, rule.skipped_version, rule.auto_update) == (True, "2.0.0", False)
    assert "Held at 1.2.0" in admin_client.get("/modules").get_data(as_text=True)


def test_toggles_offer_to_switch_dependencies_and_dependants_too(app, admin_client, hub_server):
    from conftest import htmx_post

    with app.app_context():
        refreshed(app)
        install(app, "notes_export")
    dialog = htmx_post(admin_client, "/modules/notes/disable")
    assert dialog.headers["HX-Retarget"] == "body" and "Notes export" in dialog.get_data(as_text=True)
    with app.app_context():
        assert state("notes")[1] == "enabled"  # asking changed nothing
    both = htmx_post(admin_client, "/modules/notes/disable", {"with_others": "1"}).get_data(as_text=True)
    assert 'id="module-notes" data-state="disabled"' in both and 'id="sidebar"' in both
    assert 'id="module-notes_export" hx-swap-oob="true" data-state="disabled"' in both
    dialog = htmx_post(admin_client, "/modules/notes_export/enable")
    assert 'data-action="enable"' in dialog.get_data(as_text=True) and "<li>Notes</li>" in dialog.get_data(as_text=True)
    both = htmx_post(admin_client, "/modules/notes_export/enable", {"with_others": "1"}).get_data(as_text=True)
    assert 'id="module-notes_export" data-state="enabled"' in both
    assert 'id="module-notes" hx-swap-oob="true" data-state="enabled"' in both
    plain = htmx_post(admin_client, "/modules/notes_export/disable").get_data(as_text=True)
    assert plain.startswith('<div class="col module-card-col" id="module-notes_export" data-state="disabled"')


def test_an_update_from_the_card_is_health_checked_too(app, admin_client, hub_server, tmp_path):
    from conftest import htmx_post
    from panel.services import jobs

    with_samples(hub_server, tmp_path, {"fragile": ({}, FRAGILE, [("1.0.0", ">=1.0"), ("1.1.0", ">=1.0")])})
    with app.app_context():
        refreshed(app)
        install(app, "fragile", "1.0.0")
    htmx_post(admin_client, "/marketplace/fragile/install", {"version": "1.1.0"})
    jobs.wait_for_jobs()
    with app.app_context():
        assert state("fragile") == ("1.0.0", "enabled")
    card = admin_client.get("/modules").get_data(as_text=True)
    assert "1.1.0 failed its health check and was rolled back" in card and "broken on purpose" in card


def test_cli_plan_pin_skip_and_the_summary_exit_code(app, runner, hub_server):
    result = runner.invoke(args=["modules", "install", "notes_export"], input="n\n")
    assert result.exit_code != 0 and "1. install Notes 1.1.0" in result.output and "2. install Notes export" in result.output
    with app.app_context():
        assert state("notes") is None  # declined: nothing changed
    assert runner.invoke(args=["modules", "install", "hello==1.0.0", "--yes"]).exit_code == 0
    assert runner.invoke(args=["modules", "pin", "hello"]).exit_code == 0
    result = runner.invoke(args=["modules", "update", "--all"])
    assert result.exit_code == 0 and "skipped" in result.output and "held at version 1.0.0" in result.output
    assert runner.invoke(args=["modules", "unpin", "hello"]).exit_code == 0
    assert runner.invoke(args=["modules", "skip", "hello", "1.2.0"]).exit_code == 0
    result = runner.invoke(args=["modules", "update", "--all"])
    assert "version 1.2.0 is skipped" in result.output
    bad = runner.invoke(args=["modules", "skip", "hello", "not-a-version"])
    assert bad.exit_code != 0 and "not a version number" in bad.output and "Traceback" not in bad.output
    assert runner.invoke(args=["modules", "pin", "nothing"]).exit_code != 0


def test_newcomer_fixes_favicon_single_docs_link_and_one_check_mark(app, client, admin_client, hub_server):
    from conftest import install_sample

    assert client.get("/favicon.ico").status_code == 200  # a first visit, signed out: no 404
    assert 'rel="icon"' in admin_client.get("/").get_data(as_text=True)
    install_sample(app, "notes")
    with app.app_context():
        refreshed(app)
    tabs = admin_client.get("/marketplace/notes?tab=description", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert tabs.count("https://example.org/docs/notes") == 1, tabs  # the store lists it among its links too
    detail = admin_client.get("/marketplace/notes").get_data(as_text=True)
    badge = detail[detail.index('mp-installed'):][:200]
    assert "✓" not in badge
