"""One builder per partial: each returns every variable its template needs, so no caller forgets one."""

from typing import NamedTuple

from flask_babel import lazy_gettext as _l

from .models import DEFAULT_ICON, Module, manifest_menu
from .services import audit, modules, sidebar

SHORT_DESCRIPTION = 160
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
}


def audit_action_label(action: str) -> str:
    return str(AUDIT_ACTIONS.get(action, action))


class ModuleCard(NamedTuple):
    """What a card shows. A plain tuple of database values, so it is its own cache key."""

    slug: str
    name: str
    version: str
    category: str
    author: str
    description: str
    docs_url: str
    state: str
    error: str | None
    icon: str | None
    previous_version: str | None


# The columns of a card, in `ModuleCard`'s order; the icon is read inside the database, so a list
# of a thousand cards decodes no manifest.
CARD_COLUMNS = (Module.slug, Module.name, Module.version, Module.category, Module.author, Module.description,
                Module.docs_url, Module.state, Module.error, Module.manifest[("menu", "icon")].as_string(),
                Module.previous_version)


def card_values(module: Module) -> tuple:
    """The values of `CARD_COLUMNS` from a loaded module (a toggle answers from what it wrote)."""
    return (module.slug, module.name, module.version, module.category, module.author, module.description,
            module.docs_url, module.state, module.error, manifest_menu(module.manifest).get("icon"),
            module.previous_version)


def module_card(values: tuple) -> ModuleCard:
    card = ModuleCard(*values)
    description = card.description or ""
    if len(description) > SHORT_DESCRIPTION:
        description = description[: SHORT_DESCRIPTION - 1].rstrip() + "…"
    return card._replace(description=description, icon=card.icon or DEFAULT_ICON)


def card_context(module: Module) -> dict:
    return {"card": card_values(module)}


def sidebar_context() -> dict:
    return {"sidebar": sidebar.build()}


def module_list_context(query: str = "", state: str = "") -> dict:
    return {
        "cards": modules.listing(query, state, columns=CARD_COLUMNS),
        "query": query,
        "state": state if state in modules.STATES else "",
        "states": modules.STATES,
    }


def dashboard_context() -> dict:
    return {"counts": modules.counts(), "events": audit.recent(), **updates_widget_context()}


def updates_widget_context() -> dict:
    """Dashboard widget: installed modules with a newer compatible version in the cached catalog."""
    from .marketplace.presenters import updates_widget_context as build

    return build()
