"""The sidebar: menu sections and the modules shown in them."""

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..extensions import db
from ..models import DEFAULT_ICON, MenuSection, Module
from ..runtime import pages_root, state

DEFAULT_SECTION = "modules"
# The panel's own sections: their labels are translated unless the administrator renames them.
BUILTIN_SECTIONS = {
    "modules": ("Modules", _l("Modules")),
    "payments": ("Payments", _l("Payments")),
    "providers": ("Service providers", _l("Service providers")),
    "tools": ("Tools", _l("Tools")),
}


@dataclass(frozen=True)
class SidebarEntry:
    slug: str
    label: str
    icon: str
    url: str


@dataclass(frozen=True)
class SidebarSection:
    """Frozen, like its entries: a built sidebar is a cache key for its own HTML. It holds the
    label as stored, so a sidebar found in the cache needs no translation at all."""

    key: str
    stored_label: str
    builtin: bool
    entries: tuple[SidebarEntry, ...] = ()

    @property
    def label(self) -> str:
        return label_of(self.key, self.stored_label, self.builtin)


def label_of(key: str, stored: str, builtin: bool) -> str:
    """A section's label: the panel's own sections translated, unless the administrator renamed them."""
    default = BUILTIN_SECTIONS.get(key)
    if builtin and default and stored == default[0]:
        return str(default[1])
    return stored


def section_label(section: MenuSection) -> str:
    return label_of(section.key, section.label, section.builtin)


def section_exists(key: str) -> bool:
    return db.session.get(MenuSection, key) is not None


def resolve_section(chosen: str | None, from_manifest: str | None, existing) -> str | None:
    """The one rule for where a module's entry is shown: the administrator's choice, else the
    manifest's section, else the default section, else the first section (`existing`, in sidebar
    order); None when there is no section at all. A choice whose section was deleted falls through."""
    for key in (chosen, from_manifest):
        if key and key in existing:
            return key
    if DEFAULT_SECTION in existing:
        return DEFAULT_SECTION
    return next(iter(existing), None)


def sections() -> list[MenuSection]:
    return list(db.session.scalars(select(MenuSection).order_by(MenuSection.position, MenuSection.key)))


# The sidebar is on every page: its two statements are built once (building costs more than
# running them), and the manifest's menu defaults are read inside the database, so a sidebar of
# hundreds of entries decodes no manifest.
_SECTIONS = select(MenuSection.key, MenuSection.label, MenuSection.builtin,
                   *state.stamp_columns("sidebar")).order_by(MenuSection.position, MenuSection.key)
_ENTRIES = (
    select(Module.slug, Module.name, Module.custom_label, Module.section_key,
           *(Module.manifest[("menu", name)].as_string().label(f"menu_{name}")
             for name in ("label", "icon", "section", "path")), *state.stamp_columns("generation", "sidebar"))
    .where(Module.state == "enabled", Module.show_in_sidebar.is_(True))
    .order_by(Module.position, Module.name)
)


def section_rows() -> tuple:
    """(key, label, builtin) of every section in sidebar order; kept per process until the
    `sidebar` counter moves (sections are written through the ORM, which moves it)."""
    return state.cache("sections", ("sidebar",)).get_or_compute("all", _read_sections)


def _read_sections() -> state.Stamped:
    rows = db.session.connection().execute(_SECTIONS).all()
    return state.Stamped(tuple(tuple(row[:3]) for row in rows), rows[0] if rows else None)


def is_section(key: str) -> bool:
    """Like `section_exists`, from the kept sections: for reads outside a change of sections."""
    return any(row[0] == key for row in section_rows())


def build(edit: bool = False) -> tuple[SidebarSection, ...]:
    """Sections in order, each with the enabled modules shown in it, in their order.

    `edit`: the sidebar's edit mode, which lists empty sections too (to drop entries into).
    Built once per process for each value of the counters that move with what it shows (module
    states, display options, sections), so a page between two changes runs no statement for it.
    """
    return state.cache("sidebar", ("generation", "sidebar")).get_or_compute(edit, lambda: _build(edit))


def _build(edit: bool) -> state.Stamped:
    ordered = section_rows()
    entries: dict[str, list[SidebarEntry]] = {key: [] for key, _, _ in ordered}
    rows = db.session.connection().execute(_ENTRIES).all()
    for row in rows:
        target = resolve_section(row.section_key, row.menu_section, entries)
        if target is None:
            continue
        path = row.menu_path or "/"
        entries[target].append(SidebarEntry(row.slug, row.custom_label or row.menu_label or row.name,
                                            row.menu_icon or DEFAULT_ICON, f"{pages_root(row.slug)}/{path.lstrip('/')}"))
    return state.Stamped(tuple(SidebarSection(key, label, bool(builtin), tuple(entries[key]))
                               for key, label, builtin in ordered if edit or entries[key]), rows[0] if rows else None)
