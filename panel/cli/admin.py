"""`flask --app app admin …`: administrator accounts."""

import click

from ..services import users
from .group import PanelGroup

group = PanelGroup("admin", help="Administrator accounts.")


@group.command("create")
@click.argument("name")
@click.option("--password", required=True, help="At least 8 characters.")
def create(name, password):
    """Create an administrator account."""
    users.create(name, password)
    click.echo(f"Administrator {name} created.")
