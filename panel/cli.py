"""`flask --app app admin …` and `flask --app app modules …`. Errors: one line, non-zero exit."""

import json
from pathlib import Path

import click
from flask.cli import AppGroup

from .errors import PanelError
from .services import modules, users

admin_cli = AppGroup("admin", help="Administrator accounts.")
modules_cli = AppGroup("modules", help="Install, list, enable and disable modules.")


def fail(message) -> None:
    raise click.ClickException(str(message))


@admin_cli.command("create")
@click.argument("name")
@click.option("--password", required=True, help="At least 8 characters.")
def admin_create(name, password):
    """Create an administrator account."""
    try:
        users.create(name, password)
    except PanelError as exc:
        fail(exc)
    click.echo(f"Administrator {name} created.")


@modules_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def modules_list(as_json):
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


@modules_cli.command("enable")
@click.argument("slug")
def modules_enable(slug):
    """Enable a module."""
    try:
        modules.discover()
        module = modules.enable(slug, "cli")
    except PanelError as exc:
        fail(exc)
    if module.state == "failed":
        fail(f"{slug} failed to enable: {module.error}")
    click.echo(f"{slug} enabled.")


@modules_cli.command("disable")
@click.argument("slug")
def modules_disable(slug):
    """Disable a module."""
    try:
        modules.disable(slug, "cli")
    except PanelError as exc:
        fail(exc)
    click.echo(f"{slug} disabled.")


@modules_cli.command("install-dir")
@click.argument("path", type=click.Path(path_type=Path))
def modules_install_dir(path):
    """Copy a module folder into the modules folder after checking its manifest."""
    from .installer import install_dir

    if not path.is_dir():  # checked here, not by click, so the error stays one line
        fail(f"{path} is not a folder.")
    try:
        slug = install_dir(path, "cli")
    except PanelError as exc:
        fail(exc)
    click.echo(f"{slug} installed (disabled); enable it with: flask --app app modules enable {slug}")


# Commands defined in other files attach themselves to `modules_cli` when imported.
CLI_EXTENSIONS = [
    "cli_installer",
    "cli_marketplace",
]


def register_cli(app) -> None:
    import importlib

    for name in CLI_EXTENSIONS:
        importlib.import_module(f"panel.{name}")
    app.cli.add_command(admin_cli)
    app.cli.add_command(modules_cli)
