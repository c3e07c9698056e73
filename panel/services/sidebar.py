"""The sidebar: menu sections and the modules shown in them."""

from collections import namedtuple
from dataclasses import dataclass, field, replace

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, bindparam, func, select

from ..extensions import db, lazy_module
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
    order: tuple = field(default=(), compare=False, repr=False)  # where it sorts in its section


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
# What `_entry` reads of a module; another statement about one module (a toggle's card) reads
# them along, with `SHOWN`, and hands the row to `build_after_switch`.
ENTRY_COLUMNS = (Module.slug, Module.name, Module.position, Module.custom_label, Module.section_key,
                 *(Module.manifest[("menu", name)].as_string().label(f"menu_{name}")
                   for name in ("label", "icon", "section", "path")))
SHOWN = and_(Module.state == "enabled", Module.show_in_sidebar.is_(True))
_ENTRIES = (select(*ENTRY_COLUMNS, *state.stamp_columns("generation", "sidebar")).where(SHOWN)
            .order_by(Module.position, Module.name))
_ENTRY = _ENTRIES.where(Module.slug == bindparam("slug"))  # built once, like every statement of a toggle
NOT_READ = object()  # `build_after_switch`: the caller did not read the module's entry
EntryRow = namedtuple("EntryRow", [column.key for column in ENTRY_COLUMNS])  # a row of `ENTRY_COLUMNS`
_POSTGRESQL = lazy_module("sqlalchemy.dialects.postgresql")


def _entries_json():
    """Every shown entry (`ENTRY_COLUMNS`, in sidebar order) as one JSON array (PostgreSQL)."""
    ordered = _POSTGRESQL.aggregate_order_by(func.json_build_array(*ENTRY_COLUMNS), Module.position, Module.name)
    return select(func.json_agg(ordered)).where(SHOWN).scalar_subquery()


def _kept_at() -> tuple:
    """The counters of the sidebar this worker keeps, for the entries to come with the counters
    when they moved since (another worker switched a module)."""
    kept = _built().find(False, lambda stamp: True)
    return kept[0] if kept is not None else ()


# On PostgreSQL a busy panel's pages (GET requests show the sidebar) would otherwise each read the
# sidebar again after any other worker's toggle: a statement per page.
state.set_rider(state.Rider("sidebar", _entries_json, ("generation", "sidebar"), _kept_at))


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


class BuiltSidebar(tuple):
    """The sections, a tuple whose hash is computed once: the sidebar's fragment cache key holds it
    on every page, and hashing two thousand entries anew each time cost 2 ms a page."""

    def __hash__(self) -> int:
        found = self.__dict__.get("hash")
        if found is None:
            found = self.__dict__["hash"] = tuple.__hash__(self)
        return found


def build(edit: bool = False) -> tuple[SidebarSection, ...]:
    """Sections in order, each with the enabled modules shown in it, in their order.

    `edit`: the sidebar's edit mode, which lists empty sections too (to drop entries into).
    Built once per process for each value of the counters that move with what it shows (module
    states, display options, sections), so a page between two changes runs no statement for it.
    """
    return _built().get_or_compute(edit, lambda: _build(edit))


def _built() -> state.CountedCache:
    return state.cache("sidebar", ("generation", "sidebar"))


def _entry(row) -> SidebarEntry:
    path = row.menu_path or "/"
    return SidebarEntry(row.slug, row.custom_label or row.menu_label or row.name, row.menu_icon or DEFAULT_ICON,
                        f"{pages_root(row.slug)}/{path.lstrip('/')}", (row.position, row.name))


def _build(edit: bool) -> state.Stamped:
    ordered = section_rows()
    entries: dict[str, list[SidebarEntry]] = {key: [] for key, _, _ in ordered}
    ridden = state.ridden("sidebar")
    if ridden is state.NOT_READ:
        rows = db.session.connection().execute(_ENTRIES).all()
        first, seen = (rows[0] if rows else None), None
    else:  # read with the counters, in the same statement
        rows, first, seen = [EntryRow(*item) for item in ridden or ()], None, state.counters()
    for row in rows:
        target = resolve_section(row.section_key, row.menu_section, entries)
        if target is None:
            continue
        entries[target].append(_entry(row))
    return state.Stamped(BuiltSidebar(SidebarSection(key, label, bool(builtin), tuple(entries[key]))
                                      for key, label, builtin in ordered if edit or entries[key]), first, seen)


def build_after_switch(slug: str, entry=NOT_READ) -> tuple[SidebarSection, ...]:
    """`build(edit=True)` right after this request switched `slug` on or off and committed.

    When that commit moved the `generation` counter from N-1 to N and nothing else, the sidebar
    at N is the one kept at N-1 with this module's entry taken out or put in: the module's row
    is read alone instead of every shown entry (the sidebar of thousands of modules otherwise
    costs a toggle more than everything else). The counter's row stays locked from the move to
    the commit, so no other change can fall between N-1 and N. `entry`: that row (`ENTRY_COLUMNS`,
    None when `SHOWN` is false) when the caller read it after the commit along with its own."""
    moved = state.moves()
    if state.uncommitted() or [key for key, _ in moved] != ["generation"]:
        return build(edit=True)
    generation = moved[0][1]
    kept = _built().find(True, lambda stamp: stamp[0] == generation - 1)
    if kept is None:
        return build(edit=True)
    (_, sidebar_counter), before = kept
    row = db.session.connection().execute(_ENTRY, {"slug": slug}).first() if entry is NOT_READ else entry
    after = _switched(before, slug, row)
    stamp = (generation, sidebar_counter)
    _built().put(stamp, True, after)
    _built().put(stamp, False, BuiltSidebar(section for section in after if section.entries))
    return after


def _switched(sections: tuple[SidebarSection, ...], slug: str, row) -> tuple[SidebarSection, ...]:
    """`sections` (edit mode: every section) without `slug`'s entry, and with it where `row`, its
    entry as read now (None when it is not shown), puts it."""
    keys = [section.key for section in sections]
    target = resolve_section(row.section_key, row.menu_section, keys) if row is not None else None
    changed = []
    for section in sections:
        entries = [entry for entry in section.entries if entry.slug != slug]
        if section.key == target:
            entry = _entry(row)
            at = next((i for i, other in enumerate(entries) if other.order > entry.order), len(entries))
            entries.insert(at, entry)
        changed.append(replace(section, entries=tuple(entries)))
    return BuiltSidebar(changed)
