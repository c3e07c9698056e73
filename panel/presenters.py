"""One builder per partial: each returns every variable its template needs, so no caller forgets one."""

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from .models import Module, menu_icon, menu_label
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
}


def audit_action_label(action: str) -> str:
    return str(AUDIT_ACTIONS.get(action, action))


@dataclass(frozen=True)
class ModuleCard:
    slug: str
    name: str
    version: str
    category: str
    author: str
    description: str
    docs_url: str
    state: str
    error: str | None
    label: str
    icon: str
    previous_version: str | None
    has_settings: bool
    has_page: bool


def module_card(module: Module) -> ModuleCard:
    description = module.description or ""
    if len(description) > SHORT_DESCRIPTION:
        description = description[: SHORT_DESCRIPTION - 1].rstrip() + "…"
    manifest = module.manifest or {}
    return ModuleCard(
        slug=module.slug, name=module.name, version=module.version, category=module.category,
        author=module.author, description=description, docs_url=module.docs_url, state=module.state,
        error=module.error, label=menu_label(module), icon=menu_icon(manifest), previous_version=module.previous_version,
        has_settings=bool(manifest.get("settings")), has_page=module.state == "enabled",
    )


def card_context(module: Module) -> dict:
    return {"card": module_card(module)}


def sidebar_context() -> dict:
    return {"sidebar": sidebar.build()}


def module_list_context(query: str = "", state: str = "") -> dict:
    return {
        "cards": [module_card(m) for m in modules.listing(query, state, rows=True)],
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
