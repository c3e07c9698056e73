"""`modules install-file PATH.zip [--yes]`, `modules uninstall SLUG [--delete-data]`, `modules rollback SLUG`."""

from pathlib import Path

import click

from .cli import fail, modules_cli
from .errors import PanelError


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


@modules_cli.command("install-file")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--yes", is_flag=True, help="Replace or downgrade an installed module without asking.")
def modules_install_file(path, yes):
    """Validate a module package (.zip), then install or update it."""
    from .installer import inspect_package, install_package

    if not path.is_file():
        fail(f"{path} is not a file.")
    try:
        report = inspect_package(path)
        click.echo(_describe(report))
        if report.problems:
            fail(report.problems[0])
        if report.comparison != "new" and not yes:
            question = {"downgrade": f"Downgrade {report.slug} from {report.current.version} to {report.version}?",
                        "same": f"Reinstall {report.slug} {report.version} over the installed copy?"}.get(
                report.comparison, f"Replace {report.slug} {report.current.version} with {report.version}?")
            if not click.confirm(question, default=False):
                fail("Nothing was changed.")
        module = install_package(path, "cli", source="upload", allow_downgrade=yes or report.comparison == "downgrade",
                                 expected_slug=report.slug)
    except PanelError as exc:
        fail(exc)
    if report.current is None:
        click.echo(f"{module.slug} {module.version} installed ({module.state}); "
                   f"enable it with: flask --app app modules enable {module.slug}")
    else:
        click.echo(f"{module.slug} updated {report.current.version} → {module.version} ({module.state}).")


@modules_cli.command("uninstall")
@click.argument("slug")
@click.option("--delete-data", is_flag=True, help="Also drop the module's tables and settings.")
def modules_uninstall(slug, delete_data):
    """Disable and remove a module; its data is kept unless --delete-data."""
    from .installer import uninstall

    try:
        uninstall(slug, "cli", delete_data=delete_data)
    except PanelError as exc:
        fail(exc)
    click.echo(f"{slug} uninstalled" + (" and its data deleted." if delete_data else "; its data was kept."))


@modules_cli.command("rollback")
@click.argument("slug")
def modules_rollback(slug):
    """Go back to the version installed before the current one."""
    from .installer import rollback

    try:
        module = rollback(slug, "cli")
    except PanelError as exc:
        fail(exc)
    click.echo(f"{slug} rolled back to {module.version}.")
