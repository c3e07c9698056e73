"""`PanelGroup`: a command group whose errors are one readable line and a non-zero exit, never a traceback."""

import logging

import click
from flask.cli import AppGroup

from ..errors import PanelError
from ..services.schema import UPGRADE_HINT, is_missing_tables

log = logging.getLogger(__name__)


def fail(message) -> None:
    """Stop the command: `Error: <message>` on stderr, exit status 1."""
    raise click.ClickException(str(message))


class PanelGroup(AppGroup):
    """Every command of the group runs in the app context (AppGroup) and turns errors into one line."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except PanelError as exc:
            fail(exc)
        except Exception as exc:  # noqa: BLE001 — a command line answers in one line; the log keeps the detail
            log.debug("command failed", exc_info=True)
            if is_missing_tables(exc):  # MIGRATE_AT_START off and `db upgrade` not run yet
                fail(UPGRADE_HINT)
            fail(f"Unexpected error ({type(exc).__name__}): {exc}")
