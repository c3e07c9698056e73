"""The command line, `flask --app app <group> <command>`: one group per file, each added in `register`.

To add a group (e.g. `store` from panel/hub/cli.py, `license` later): define it in its own file as
`group = PanelGroup("<name>", help=…)` (panel/cli/group.py: errors become one line and a non-zero exit),
import that module below, and add one `app.cli.add_command(<module>.group)` line to `register`.
"""

from ..hub import cli as store
from . import admin, license, modules


def register(app) -> None:
    app.cli.add_command(admin.group)  # admin create
    app.cli.add_command(modules.group)  # modules list/enable/disable/install…/update/uninstall/rollback
    store.init_app(app)  # store license/coupon/trial: the embedded store's operator (panel/hub/cli.py)
    app.cli.add_command(license.group)  # license set/show/coupon/refresh
