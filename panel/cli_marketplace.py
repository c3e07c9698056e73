"""`modules install SLUG[==VERSION]` and `modules update --all`: marketplace installs from the command line."""

import click

from .cli import fail, modules_cli
from .errors import PanelError


def _refresh_catalog(quiet: bool = False) -> None:
    from .marketplace import catalog

    result = catalog.refresh()
    if result.status == "failed":
        st = catalog.state()
        if not st.catalog.modules:
            fail(result.message)
        if not quiet:
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
    from .services import jobs

    job = jobs.create_install(slug, version, actor)
    click.echo(f"{slug} {job.params['version']}: job {job.id}")
    job = jobs.run_install(job.id, echo=_echo_progress())
    if job.state != "done":
        fail(job.message or f"{slug}: the install failed.")
    click.echo(job.message)
    return job


@modules_cli.command("install")
@click.argument("spec", metavar="SLUG[==VERSION]")
def modules_install(spec):
    """Download a module from the marketplace, verify it, and install it (disabled until you enable it)."""
    slug, _, version = spec.partition("==")
    slug, version = slug.strip(), version.strip() or None
    if not slug:
        fail("Give a module name, e.g. hello or hello==1.2.0.")
    try:
        _refresh_catalog()
        _install(slug, version)
    except PanelError as exc:
        fail(exc)


@modules_cli.command("update")
@click.argument("slugs", nargs=-1)
@click.option("--all", "update_all", is_flag=True, help="Update every installed module with a newer compatible version.")
def modules_update(slugs, update_all):
    """Update modules to the newest version the marketplace has that works with this panel."""
    from .marketplace import catalog

    if not slugs and not update_all:
        fail("Name the modules to update, or pass --all.")
    try:
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
    except PanelError as exc:
        fail(exc)
    if failed:
        fail(f"{len(failed)} update(s) failed: {', '.join(failed)}.")
