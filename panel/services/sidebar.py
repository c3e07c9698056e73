"""The sidebar: menu sections and the modules shown in them."""

from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..extensions import db
from ..models import MenuSection, Module, manifest_menu, menu_icon, menu_label

DEFAULT_SECTION = "modules"
# The panel's own sections: their labels are translated unless the administrator renames them.
BUILTIN_SECTIONS = {
    "modules": ("Modules", _l("Modules")),
    "payments": ("Payments", _l("Payments")),
    "providers": ("Service providers", _l("Service providers")),
    "tools": ("Tools", _l("Tools")),
}


@dataclass
class SidebarEntry:
    slug: str
    label: str
    icon: str
    url: str


@dataclass
class SidebarSection:
    key: str
    label: str
    entries: list[SidebarEntry] = field(default_factory=list)


def section_label(section: MenuSection) -> str:
    builtin = BUILTIN_SECTIONS.get(section.key)
    if section.builtin and builtin and section.label == builtin[0]:
        return str(builtin[1])
    return section.label


def section_exists(key: str) -> bool:
    return db.session.get(MenuSection, key) is not None


def sections() -> list[MenuSection]:
    return list(db.session.scalars(select(MenuSection).order_by(MenuSection.position, MenuSection.key)))


def build(edit: bool = False) -> list[SidebarSection]:
    """Sections in order, each with the enabled modules shown in it, in their order.

    `edit`: the sidebar's edit mode, which lists empty sections too (to drop entries into).
    """
    ordered = sections()
    by_key = {s.key: SidebarSection(s.key, section_label(s)) for s in ordered}
    fallback = by_key.get(DEFAULT_SECTION) or (next(iter(by_key.values())) if by_key else None)
    rows = db.session.execute(
        select(Module.slug, Module.name, Module.manifest, Module.custom_label, Module.section_key)
        .where(Module.state == "enabled", Module.show_in_sidebar.is_(True))
        .order_by(Module.position, Module.name)
    )
    for module in rows:
        menu = manifest_menu(module.manifest)
        target = by_key.get(module.section_key or (menu.get("section") or "")) or fallback
        if target is None:
            continue
        path = menu.get("path") or "/"
        target.entries.append(SidebarEntry(module.slug, menu_label(module), menu_icon(module.manifest),
                                           f"/m/{module.slug}/{path.lstrip('/')}"))
    return [by_key[s.key] for s in ordered if edit or by_key[s.key].entries]
