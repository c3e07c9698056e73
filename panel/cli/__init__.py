"""The command line, `flask --app app <group> <command>`: one group per file, each named in `GROUPS`.

A group's file is imported when the command line asks for that group (`flask admin create …`, or the
list in `flask --help`), never by a serving worker, which has no use for commands: `register` gives
the app a command list (`CommandGroups`) that finds the groups by name in `GROUPS`.

To add a group (e.g. `store` from panel/hub/cli.py, `license` later): define it in its own file as
`group = PanelGroup("<name>", help=…)` (panel/cli/group.py: errors become one line and a non-zero exit),
name the file below with `lazy_module`, and add one line to `GROUPS`.
"""

from flask.cli import AppGroup

from ..extensions import lazy_module

admin = lazy_module("panel.cli.admin")
modules = lazy_module("panel.cli.modules")
license = lazy_module("panel.cli.license")
store = lazy_module("panel.hub.cli")
migrations = lazy_module("flask_migrate.cli")

GROUPS = {  # name -> the group, imported when first asked for
    "admin": lambda: admin.group,  # admin create
    "modules": lambda: modules.group,  # modules list/enable/disable/install…/update/uninstall/rollback
    "store": lambda: store.store_cli,  # store license/coupon/trial: the embedded store's operator (panel/hub/cli.py)
    "license": lambda: license.group,  # license set/show/coupon/refresh
    "db": lambda: migrations.db,  # Flask-Migrate's `db upgrade` & co (panel/extensions.py: `Migrations`)
}


class CommandGroups(AppGroup):
    """The app's commands: those added as usual, and the groups of `GROUPS`, imported on first use."""

    def list_commands(self, ctx) -> list[str]:
        return sorted({*super().list_commands(ctx), *GROUPS})

    def get_command(self, ctx, name):
        if name not in self.commands and name in GROUPS:
            self.add_command(GROUPS[name](), name)
        return super().get_command(ctx, name)


def register(app) -> None:
    commands = CommandGroups(name=app.cli.name)
    for name, command in app.cli.commands.items():  # any a blueprint or an extension added already
        commands.add_command(command, name)
    app.cli = commands
