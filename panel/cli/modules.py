"""`flask --app app modules …`: list, switch, install (folder, file, marketplace), update, uninstall, roll back."""

import json
from pathlib import Path

import click

from .. import installer
from ..marketplace import catalog
from ..marketplace import jobs as install_jobs
from ..services import modules
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
    last = {}

    def echo(job):
        key = (job.phase, job.bytes_done if job.phase == "download" else job.files_done)
        if key == last.get("key"):
            return
        last["key"] = key
        if job.phase == "download":
            total = f" / {job.bytes_total // 1024 or 1} KB" if job.bytes_total else ""
            click.echo(f"  download {job.bytes_done // 1024} KB{total}")
        elif job.files_total:
            click.echo(f"  {job.phase} {job.files_done}/{job.files_total}")
        else:
            click.echo(f"  {job.phase}")

    return echo


def _install(slug: str, version: str | None, actor: str = "cli"):
    job = install_jobs.create_install(slug, version, actor)
    click.echo(f"{slug} {job.params['version']}: job {job.id}")
    job = install_jobs.run_install(job.id, echo=_echo_progress())
    if job.state != "done":
        fail(job.message or f"{slug}: the install failed.")
    click.echo(job.message)
    return job


@group.command("install")
@click.argument("spec", metavar="SLUG[==VERSION]")
def install(spec):
    """Download a module from the marketplace, verify it, and install it (disabled until you enable it)."""
    slug, _, version = spec.partition("==")
    slug, version = slug.strip(), version.strip() or None
    if not slug:
        fail("Give a module name, e.g. hello or hello==1.2.0.")
    _refresh_catalog()
    _install(slug, version)


@group.command("update")
@click.argument("slugs", nargs=-1)
@click.option("--all", "update_all", is_flag=True, help="Update every installed module with a newer compatible version.")
def update(slugs, update_all):
    """Update modules to the newest version the marketplace has that works with this panel."""
    if not slugs and not update_all:
        fail("Name the modules to update, or pass --all.")
    _refresh_catalog()
    updates = {row["slug"]: row for row in catalog.updates_available()}
    targets = sorted(updates) if update_all else list(slugs)
    if not targets:
        click.echo("Every installed module is up to date.")
        return
    failed = []
    for slug in targets:
        row = updates.get(slug)
        if row is None:
            click.echo(f"{slug}: up to date (or not from the marketplace).")
            continue
        click.echo(f"{slug}: {row['installed']} -> {row['version']}")
        try:
            _install(slug, row["version"])
        except click.ClickException as exc:
            click.echo(f"{slug}: {exc.message}", err=True)
            failed.append(slug)
    if failed:
        fail(f"{len(failed)} update(s) failed: {', '.join(failed)}.")

