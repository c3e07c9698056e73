"""`flask --app app modules …`: list, switch, install (folder, file, marketplace), update, uninstall, roll back."""

import json
import sys
from pathlib import Path

import click

from .. import installer
from ..marketplace import catalog
from ..marketplace import jobs as install_jobs
from ..marketplace import licenses as store_licenses
from ..marketplace import plan_runs, updates
from ..marketplace.problems import describe_problem
from ..services import modules
from ..versions import is_valid, normalized
from .group import PanelGroup, fail

group = PanelGroup("modules", help="Install, list, enable and disable modules.")


# --- installed modules ----------------------------------------------------------------------------

@group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_modules(as_json):
    """List installed modules."""
    modules.discover()
    rows = [{"slug": m.slug, "name": m.name, "version": m.version, "state": m.state, "error": m.error}
            for m in modules.listing()]
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("No modules installed.")
    for row in rows:
        error = f"  ({row['error']})" if row["error"] else ""
        click.echo(f"{row['slug']:<24} {row['version']:<12} {row['state']:<9} {row['name']}{error}")


@group.command("enable")
@click.argument("slug")
def enable(slug):
    """Enable a module."""
    modules.discover()
    module = modules.enable(slug, "cli")
    if module.state == "failed":
        fail(f"{slug} failed to enable: {module.error}")
    click.echo(f"{slug} enabled.")


@group.command("disable")
@click.argument("slug")
def disable(slug):
    """Disable a module."""
    modules.disable(slug, "cli")
    click.echo(f"{slug} disabled.")


@group.command("uninstall")
@click.argument("slug")
@click.option("--delete-data", is_flag=True, help="Also drop the module's tables and settings.")
def uninstall(slug, delete_data):
    """Disable and remove a module; its data is kept unless --delete-data."""
    installer.uninstall(slug, "cli", delete_data=delete_data)
    click.echo(f"{slug} uninstalled" + (" and its data deleted." if delete_data else "; its data was kept."))


@group.command("rollback")
@click.argument("slug")
def rollback(slug):
    """Go back to the version installed before the current one."""
    module = installer.rollback(slug, "cli")
    click.echo(f"{slug} rolled back to {module.version}.")


# --- from a folder or a package file --------------------------------------------------------------

@group.command("install-dir")
@click.argument("path", type=click.Path(path_type=Path))
def install_dir(path):
    """Copy a module folder into the modules folder after checking its manifest."""
    if not path.is_dir():  # checked here, not by click, so the error stays one line
        fail(f"{path} is not a folder.")
    slug = installer.install_dir(path, "cli")
    click.echo(f"{slug} installed (disabled); enable it with: flask --app app modules enable {slug}")


def _describe(report) -> str:
    lines = [f"{report.name} {report.version} ({report.slug}) by {report.author or 'unknown author'}",
             f"  {report.files} files, {report.unpacked_bytes // 1024 or 1} KB unpacked, "
             f"{'signed' if report.signed else 'unsigned'}, sha256 {report.sha256}",
             f"  core {report.requires_core or 'any'}: {'compatible' if report.core_ok else 'NOT compatible'}"]
    if report.missing:
        lines.append(f"  missing modules: {', '.join(report.missing)}")
    if report.current is not None:
        lines.append(f"  installed now: {report.current.version} ({report.current.state}), "
                     f"{report.current.files} files")
    return "\n".join(lines)


@group.command("install-file")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--yes", is_flag=True, help="Replace or downgrade an installed module without asking.")
def install_file(path, yes):
    """Validate a module package (.zip), then install or update it."""
    if not path.is_file():
        fail(f"{path} is not a file.")
    report = installer.inspect_package(path)
    click.echo(_describe(report))
    if report.problems:
        fail(report.problems[0])
    if report.comparison != "new" and not yes:
        question = {"downgrade": f"Downgrade {report.slug} from {report.current.version} to {report.version}?",
                    "same": f"Reinstall {report.slug} {report.version} over the installed copy?"}.get(
            report.comparison, f"Replace {report.slug} {report.current.version} with {report.version}?")
        if not click.confirm(question, default=False):
            fail("Nothing was changed.")
    module = installer.install_package(path, "cli", source="upload",
                                       allow_downgrade=yes or report.comparison == "downgrade",
                                       expected_slug=report.slug)
    if report.current is None:
        click.echo(f"{module.slug} {module.version} installed ({module.state}); "
                   f"enable it with: flask --app app modules enable {module.slug}")
    else:
        click.echo(f"{module.slug} updated {report.current.version} → {module.version} ({module.state}).")


# --- from the marketplace -------------------------------------------------------------------------

def _refresh_catalog() -> None:
    result = catalog.refresh()
    if result.status == "failed":
        st = catalog.state()
        if not st.catalog.count:
            fail(result.message)
        click.echo(f"warning: {result.message} Using the catalog from {st.fetched_at:%Y-%m-%d %H:%M} UTC.")


def _echo_progress():
    """Progress lines; on a terminal the download is one bar redrawn in place."""
    last = {}
    terminal = sys.stdout.isatty()

    def echo(job):
        key = (job.phase, job.bytes_done if job.phase == "download" else job.files_done)
        if key == last.get("key"):
            return
        last["key"] = key
        if job.phase == "download" and terminal and job.bytes_total:
            filled = 30 * min(job.bytes_done, job.bytes_total) // job.bytes_total
            click.echo(f"\r  download [{'#' * filled}{' ' * (30 - filled)}] {job.bytes_done // 1024} KB", nl=False)
            if job.bytes_done >= job.bytes_total:
                click.echo("")
        elif job.phase == "download":
            total = f" / {job.bytes_total // 1024 or 1} KB" if job.bytes_total else ""
            click.echo(f"  download {job.bytes_done // 1024} KB{total}")
        elif job.files_total:
            click.echo(f"  {job.phase} {job.files_done}/{job.files_total}")
        else:
            click.echo(f"  {job.phase}")

    return echo


def _plan_lines(plan) -> list[str]:
    if not plan.ok:
        return [f"  cannot: {describe_problem(problem)}" for problem in plan.problems]
    if not plan.steps:
        return ["  nothing to do: already installed and enabled."]
    lines = []
    for number, step in enumerate(plan.steps, 1):
        size = f", {step.size // 1024 or 1} KB" if step.size else ""
        was = f" (from {step.installed})" if step.action == "update" else ""
        lines.append(f"  {number}. {step.action} {step.name} {step.version}{was}{size}")
    return lines


@group.command("install")
@click.argument("spec", metavar="SLUG[==VERSION]")
@click.option("--yes", is_flag=True, help="Follow the plan (dependencies included) without asking.")
def install(spec, yes):
    """Install a module from the marketplace with everything it needs, after showing the plan."""
    slug, _, version = spec.partition("==")
    slug, version = slug.strip(), version.strip() or None
    if not slug:
        fail("Give a module name, e.g. hello or hello==1.2.0.")
    _refresh_catalog()
    plan = plan_runs.plan_install(slug, version)
    click.echo(f"Plan for {slug}:")
    click.echo("\n".join(_plan_lines(plan)))
    if not plan.ok:
        fail("Nothing was changed.")
    if not plan.steps:
        return
    if not yes and not click.confirm("Go ahead?", default=True):
        fail("Nothing was changed.")
    job = plan_runs.run(plan_runs.create(plan, "cli").id, echo=_echo_progress())
    if job.state != "done":
        fail(job.message)
    click.echo(job.message)


@group.command("update")
@click.argument("slugs", nargs=-1)
@click.option("--all", "update_all", is_flag=True, help="Update every installed module with a newer compatible version.")
def update(slugs, update_all):
    """Update modules to the newest version that works with this panel; a failing one is rolled back."""
    if not slugs and not update_all:
        fail("Name the modules to update, or pass --all.")
    _refresh_catalog()
    wanted = set(slugs)
    outcomes = updates.update_all("cli", echo=_echo_progress(),
                                  only=None if update_all else (lambda offer: offer.slug in wanted))
    for slug in sorted(wanted - {o.slug for o in outcomes}):
        click.echo(f"{slug}: up to date (or not from the marketplace).")
    if not outcomes and update_all:
        click.echo("Every installed module is up to date.")
        return
    if outcomes:
        click.echo(f"{'MODULE':<20} {'FROM':<10} {'TO':<10} {'RESULT':<12} REASON")
    for o in outcomes:
        click.echo(f"{o.slug:<20} {o.installed:<10} {o.version or '-':<10} {o.result:<12} {o.reason}")
    bad = [o.slug for o in outcomes if o.result in (updates.FAILED, updates.ROLLED_BACK)]
    if bad:
        fail(f"{len(bad)} update(s) did not go through: {', '.join(bad)}.")



@group.command("trial")
@click.argument("slug")
def trial(slug):
    """Start the free trial of a paid module (recorded at the store: once per license and module)."""
    _refresh_catalog()
    body = store_licenses.start_trial(slug)
    started = body.get("trial") or {}
    click.echo(f"Trial of {slug} started: {started.get('days')} day(s), until {started.get('ends_at')}.")


@group.command("pin")
@click.argument("slug")
def pin(slug):
    """Hold a module at its installed version: no update is offered or applied."""
    updates.set_policy(slug, "cli", pinned=True)
    click.echo(f"{slug} is held at its installed version.")


@group.command("unpin")
@click.argument("slug")
def unpin(slug):
    """Let a held module be updated again."""
    updates.set_policy(slug, "cli", pinned=False)
    click.echo(f"{slug} is no longer held.")


@group.command("skip")
@click.argument("slug")
@click.argument("version")
def skip(slug, version):
    """Skip one version of a module: it is offered again only when a newer one appears."""
    if not is_valid(version):
        fail(f"{version[:40]} is not a version number.")
    updates.set_policy(slug, "cli", skipped_version=normalized(version))
    click.echo(f"{slug} {normalized(version)} will not be offered.")
