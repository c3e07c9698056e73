"""`flask --app app license …`: set the key, show the license, redeem a coupon, check with the store now."""

import json

import click

from ..licensing import token
from ..licensing.keys import KeyFormatError
from ..marketplace import licenses as store_licenses
from ..services import license_expiry, licenses
from .group import PanelGroup, fail

group = PanelGroup("license", help="This installation's license key, coupons and trials.")


def _store(call, *args) -> dict:
    try:
        return call(*args)
    except KeyFormatError as exc:
        fail(exc)


@group.command("set")
@click.argument("key")
def set_key(key):
    """Activate a license key for this installation."""
    body = _store(store_licenses.activate, key)
    click.echo(f"License activated for {body['claims'].get('owner', '')} "
               f"(installation {licenses.installation_id()}).")
    license_expiry.enforce()


def _summary() -> dict:
    view = licenses.current()
    moment = licenses.now()
    modules = {}
    for slug in sorted((view.claims or {}).get("modules") or {}):
        granted = token.entitlement(view.claims, slug, moment)
        modules[slug] = {"kind": granted.kind, "active": granted.active, "reason": granted.reason,
                         "until": token.format_time(granted.until),
                         "updates_until": token.format_time(granted.updates_until),
                         "days_left": granted.days_left(moment)}
    return {"installation": licenses.installation_id(), "key": view.key, "owner": view.owner or None,
            "valid": view.claims is not None, "token_error": view.token_error,
            "checked_at": view.checked_at.isoformat() + "Z" if view.checked_at else None,
            "refresh_by": token.format_time(view.refresh_by), "last_error": view.last_error, "modules": modules}


@group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def show(as_json):
    """Show the license: owner, installation id, each module with its end, each trial with days left."""
    license_expiry.enforce()
    summary = _summary()
    if as_json:
        click.echo(json.dumps(summary, indent=2, ensure_ascii=False))
        return
    click.echo(f"installation  {summary['installation']}")
    if not summary["key"]:
        click.echo("No license key: set one with `flask --app app license set KEY`.")
        return
    click.echo(f"key           {summary['key']}")
    click.echo(f"owner         {summary['owner'] or '-'}")
    click.echo(f"last checked  {summary['checked_at'] or 'never'} (check again by {summary['refresh_by'] or '-'})")
    if summary["token_error"]:
        click.echo(f"token         {summary['token_error']}")
    if summary["last_error"]:
        click.echo(f"last error    {summary['last_error']}")
    for slug, row in summary["modules"].items():
        if row["kind"] == "trial" and row["active"]:
            state = f"trial, {row['days_left']} day(s) left"
        elif row["active"]:
            state = f"{row['kind']} until {row['until'] or 'for ever'}"
        else:
            state = f"{row['reason']} ({row['until']})"
        click.echo(f"  {slug:<24} {state}")


@group.command("coupon")
@click.argument("code")
def coupon(code):
    """Redeem a coupon: it adds modules or days to the license."""
    body = _store(store_licenses.redeem, code)
    added = body.get("added") or {}
    what = ", ".join(added.get("modules") or []) or f"{added.get('days')} day(s)"
    click.echo(f"Coupon accepted: it added {what}.")


@group.command("refresh")
def refresh():
    """Check the license with the store now."""
    body = _store(store_licenses.refresh)
    click.echo(f"License checked: {len(body['claims'].get('modules') or {})} module(s) in it.")
    license_expiry.enforce()
