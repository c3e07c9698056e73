"""The dashboard: counts, the updates widget and recent activity, with each action's label."""

from flask_babel import lazy_gettext as _l

from ..services import audit, modules
from ..marketplace import catalog, updates
from .license import dashboard_license_context
from .marketplace import updates_widget_context as _catalog_widget_context

AUDIT_ACTIONS = {
    "setup": _l("created the panel's administrator"),
    "discovered": _l("found a new module folder"),
    "installed": _l("installed"),
    "updated": _l("updated"),
    "rolled_back": _l("rolled back"),
    "uninstalled": _l("uninstalled"),
    "enabled": _l("enabled"),
    "disabled": _l("disabled"),
    "enable_failed": _l("failed to enable"),
    "install_failed": _l("failed to install"),
    "uninstall_failed": _l("failed to uninstall"),
    "rollback_failed": _l("failed to roll back"),
    "display_changed": _l("changed the sidebar entry of"),
    "settings_changed": _l("changed the settings of"),
    "sections_changed": _l("changed the menu sections"),
    "signed_in": _l("signed in"),
    "sign_in_failed": _l("failed to sign in"),
    "sign_in_throttled": _l("was made to wait before signing in"),
    "license_ended": _l("disabled, its license having ended:"),
    "health_check_failed": _l("rolled back a version failing its health check of"),
    "update_policy_changed": _l("changed the update policy of"),
}


def audit_action_label(action: str) -> str:
    return str(AUDIT_ACTIONS.get(action, action))


def dashboard_context() -> dict:
    return {"counts": modules.counts(), "events": audit.recent(), **updates_widget_context(),
            **dashboard_license_context()}


def updates_widget_context() -> dict:
    """The widget: every installed module with a newer version, offered or not and why (issue 11)."""
    return {**_catalog_widget_context(), "offers": updates.offers(catalog.state().catalog)}
