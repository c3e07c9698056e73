"""`flask … store …`: the store operator's commands (licenses, coupons, trials).

    store license create --owner NAME [--module SLUG …] [--installations N] [--until DATE] [--updates-until DATE]
    store coupon create --module SLUG [--module SLUG …] [--days N]
    store trial set KEY SLUG --started DATE

`init_app(app)` adds the group to a Flask app's CLI: the hub's own (`flask --app panel.hub:create_hub
store …`) or the panel's, where it works on the embedded hub. Errors: one line, non-zero exit.
"""

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.exc import SQLAlchemyError

from .licenses import LicenseStore, Refused

store_cli = AppGroup("store", help="The embedded store's licenses, coupons and trials (for its operator).")
license_cli = AppGroup("license", help="Licenses the store sells.")
coupon_cli = AppGroup("coupon", help="Single-use coupons that add modules or days to a license.")
trial_cli = AppGroup("trial", help="Trials recorded by the store, once per license and module.")
store_cli.add_command(license_cli)
store_cli.add_command(coupon_cli)
store_cli.add_command(trial_cli)

DATE = click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"])


def licenses() -> LicenseStore:
    """The hub's license store: this app's when it is the hub, else the panel's embedded hub's."""
    found = current_app.extensions.get("hub_licenses")
    if found is None:
        hub = current_app.extensions.get("embedded_hub")
        found = hub.app.extensions.get("hub_licenses") if hub is not None else None
    if found is None:
        raise click.ClickException("This panel runs no embedded store (EMBEDDED_HUB is off): run the command "
                                   "with the store's own app, `flask --app panel.hub:create_hub store …`.")
    return found


def run(action):
    try:
        return action()
    except Refused as exc:
        raise click.ClickException(exc.error) from None
    except SQLAlchemyError as exc:
        reason = str(exc.orig if getattr(exc, "orig", None) else exc).splitlines()[0]
        raise click.ClickException(f"The store's license database cannot be used: {reason}.") from None


@license_cli.command("create")
@click.option("--owner", required=True, help="Who the license is for.")
@click.option("--module", "modules", multiple=True, metavar="SLUG", help="A paid module it owns (repeat).")
@click.option("--installations", default=1, show_default=True, type=int, help="How many installations may use it.")
@click.option("--until", type=DATE, help="Owned until this date (UTC); for ever when left out.")
@click.option("--updates-until", type=DATE, help="Versions released until this date (UTC); every version when left out.")
def license_create(owner, modules, installations, until, updates_until):
    """Create a license and print its key."""
    click.echo(run(lambda: licenses().create_license(owner, modules, installations, until, updates_until)))


@coupon_cli.command("create")
@click.option("--module", "modules", multiple=True, metavar="SLUG", help="A paid module it adds (repeat).")
@click.option("--days", type=int, help="For this many days (for ever when left out); alone: extends every dated module.")
def coupon_create(modules, days):
    """Create a single-use coupon and print its code."""
    click.echo(run(lambda: licenses().create_coupon(modules, days)))


@trial_cli.command("set")
@click.argument("key")
@click.argument("slug")
@click.option("--started", required=True, type=DATE, help="When the trial started (UTC), e.g. 2026-05-01.")
def trial_set(key, slug, started):
    """Start or move the trial of SLUG on the license KEY (to correct one, or to try expiry)."""
    trial = run(lambda: licenses().set_trial(key, slug, started))
    click.echo(f"Trial of {trial['module']}: started {trial['started_at']}, ends {trial['ends_at']}.")


def init_app(app) -> None:
    app.cli.add_command(store_cli)
