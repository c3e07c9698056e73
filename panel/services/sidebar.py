"""The sidebar: menu sections and the modules shown in them."""

from bisect import bisect_left, bisect_right
from collections import namedtuple
from dataclasses import dataclass
from operator import attrgetter
from typing import NamedTuple

from flask import g, has_request_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, bindparam, func, select

from ..extensions import db, lazy_module
from ..models import DEFAULT_ICON, AuditEvent, MenuSection, Module, manifest_menu
from ..runtime import pages_root, plain_rows, state

DEFAULT_SECTION = "modules"
# The panel's own sections: their labels are translated unless the administrator renames them.
BUILTIN_SECTIONS = {
    "modules": ("Modules", _l("Modules")),
    "payments": ("Payments", _l("Payments")),
    "providers": ("Service providers", _l("Service providers")),
    "tools": ("Tools", _l("Tools")),
}


class SidebarEntry(NamedTuple):
    """A named tuple, not a dataclass: a sidebar is rebuilt from thousands of them (a frozen dataclass
    was three times as costly to make)."""

    slug: str
    label: str
    icon: str
    url: str
    order: tuple = ()  # where it sorts in its section


_ORDER = attrgetter("order")


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
# them along, with `SHOWN` (labelled `shown_in_sidebar`), and hands the row to `build_after_switch`.
ENTRY_COLUMNS = (Module.slug, Module.name, Module.position, Module.custom_label, Module.section_key,
                 *(Module.manifest[("menu", name)].as_string().label(f"menu_{name}")
                   for name in ("label", "icon", "section", "path")))
SHOWN = and_(Module.state == "enabled", Module.show_in_sidebar.is_(True))
_ENTRIES = (select(*ENTRY_COLUMNS, *state.stamp_columns("generation", "sidebar")).where(SHOWN)
            .order_by(Module.position, Module.name))
# One module's entry whether shown or not, built once like every statement of a toggle.
_ENTRY = select(*ENTRY_COLUMNS, SHOWN.label("shown_in_sidebar")).where(Module.slug == bindparam("slug"))
NOT_READ = object()  # `build_after_switch`: the caller did not read the module's entry
EntryRow = namedtuple("EntryRow", [column.key for column in ENTRY_COLUMNS])  # a row of `ENTRY_COLUMNS`
ShownEntryRow = namedtuple("ShownEntryRow", [*EntryRow._fields, "shown_in_sidebar"])  # a row of `_ENTRY`


def entry_of(module) -> ShownEntryRow:
    """What `_ENTRY` reads of a module, from its row as this request wrote it (a toggle's answer)."""
    menu = manifest_menu(module.manifest)
    return ShownEntryRow(module.slug, module.name, module.position, module.custom_label, module.section_key,
                         menu.get("label"), menu.get("icon"), menu.get("section"), menu.get("path"),
                         module.state == "enabled" and bool(module.show_in_sidebar))


_POSTGRESQL = lazy_module("sqlalchemy.dialects.postgresql")


def _entries_json():
    """Every shown entry (`ENTRY_COLUMNS`, in sidebar order) as one JSON array (PostgreSQL)."""
    ordered = _POSTGRESQL.aggregate_order_by(func.json_build_array(*ENTRY_COLUMNS), Module.position, Module.name)
    return select(func.json_agg(ordered)).where(SHOWN).scalar_subquery()


# On PostgreSQL a page's sidebar of at most this many entries is read whole with the counters when they
# moved (no round trip of its own, where catching up, `_caught_up`, is one); a larger one is caught up.
SMALL_SIDEBAR = 200


def _kept_at() -> tuple | None:
    """The counters of the sidebar this worker keeps, for the entries to come with the counters
    when they moved since (another worker switched a module); None: not wanted, since the kept one
    is large, and the switches since cost one small statement where every entry is a large one."""
    kept = _built().find(False, lambda stamp: True)
    if kept is None:
        return ()
    return None if sum(len(section.entries) for section in kept[1]) > SMALL_SIDEBAR else kept[0]


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
    return _built().get_or_compute(edit, lambda: _caught_up(edit) or _build(edit))


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
        rows = plain_rows.rows(_ENTRIES)  # thousands of rows: not through SQLAlchemy's result rows
        first, seen = (rows[0] if rows else None), None
    else:  # read with the counters, in the same statement
        rows, first, seen = [EntryRow(*item) for item in ridden or ()], None, state.counters()
    for row in rows:
        target = resolve_section(row.section_key, row.menu_section, entries)
        if target is None:
            continue
        entries[target].append(_entry(row))
    for found in entries.values():  # in Python's order, which `find_entry` searches by (a database's
        found.sort(key=_ORDER)      # collation may order names otherwise); stable, so nearly free
    return state.Stamped(BuiltSidebar(SidebarSection(key, label, bool(builtin), tuple(entries[key]))
                                      for key, label, builtin in ordered if edit or entries[key]), first, seen)


# Past this many generations behind, reading every entry (or counting the modules, services.module_counts)
# costs less than reading the switches since.
MAX_CATCH_UP = 64
# The switches since a generation, each with the state it found its module in and its module's entry
# as it is now (no module: uninstalled since), in one statement run on the driver's rows.
_SWITCHES = (select(AuditEvent.generation, AuditEvent.slug.label("switched"), AuditEvent.action,
                    AuditEvent.from_state, *ENTRY_COLUMNS, SHOWN.label("shown_in_sidebar"),
                    *state.stamp_columns("generation", "sidebar"))
             .select_from(AuditEvent).outerjoin(Module, Module.slug == AuditEvent.slug)
             .where(AuditEvent.generation > bindparam("after"), AuditEvent.generation <= bindparam("upto")))
_READ_SWITCHES = "_panel_switches_read"


def switches_since(after: int, upto: int) -> list:
    """The module switches that moved the `generation` counter past `after`, up to `upto`: rows of
    `_SWITCHES`, read once per request for a range. A toggle on a worker behind catches up on the
    same switches twice, for the counts above the list (services.module_counts) and for the sidebar."""
    found = g.get(_READ_SWITCHES) if has_request_context() else None
    if found is not None and found[0] == (after, upto):
        return found[1]
    rows = plain_rows.rows(_SWITCHES, {"after": after, "upto": upto})
    if has_request_context():
        setattr(g, _READ_SWITCHES, ((after, upto), rows))
    return rows


def _caught_up(edit: bool) -> state.Stamped | None:
    """The sidebar at this request's counters, made from one this worker kept at an earlier generation
    under the same `sidebar` counter by applying the module switches since (`_catch_up`); None: read
    every entry."""
    if state.ridden("sidebar") is not state.NOT_READ:
        return None  # every entry came with the counters: no statement to save
    found = _catch_up(state.value("generation"), state.value("sidebar"))
    if found is None:
        return None
    after, row = found
    if not edit:
        after = BuiltSidebar(section for section in after if section.entries)
    return state.Stamped(after, row)


def _catch_up(generation: int, sidebar: int, not_of: str | None = None) -> tuple[BuiltSidebar, object] | None:
    """The edit mode's sidebar at `generation`, from the latest one this worker kept before it under
    the `sidebar` counter, and the first entry row read (with the counters it saw): each switch since
    names in its audit entry the generation it moved the counter to (`audit.record_switch`), and the
    switched modules' entries are read again, a few rows where a sidebar of thousands of entries took
    tenths of a second to read and build whole (the switches and those entries are one statement).
    None (read every entry) unless every generation since is one switch's: anything else that moved
    the counter (an install, a discovery, switches raced on PostgreSQL) leaves a generation named by
    no switch, or by two; or when `not_of` was switched since (the caller's own switch, read here as
    it is after it)."""
    def wanted(stamp):
        return stamp[1] == sidebar and generation - MAX_CATCH_UP <= stamp[0] < generation
    kept = _built().find(True, wanted)
    if kept is None:
        kept = _built().find(False, wanted)
        if kept is None:
            return None
        kept = kept[0], _with_empty_sections(kept[1])
    (since, _), before = kept
    switches = switches_since(since, generation)
    if sorted(row.generation for row in switches) != list(range(since + 1, generation + 1)):
        return None
    actions: dict[str, set] = {}
    for row in switches:
        actions.setdefault(row.switched, set()).add(row.action)
    if not_of in actions:
        return None
    found = {row.switched: row for row in switches if row.slug is not None}
    after = before
    for slug, done in sorted(actions.items()):
        # Switched off and on again: its manifest, and its entry's name with it, may have changed between.
        after = _switched(after, slug, found.get(slug), by_slug={"disabled", "enabled"} <= done)
    return after, switches[0]  # one at least: the kept sidebar is older than `generation`


def _with_empty_sections(shown: tuple[SidebarSection, ...]) -> BuiltSidebar:
    """The edit mode's sidebar from the pages' one (which leaves out empty sections), kept under the
    same counters: every section, in order, those left out empty."""
    by_key = {section.key: section for section in shown}
    return BuiltSidebar(by_key.get(key) or SidebarSection(key, label, bool(builtin))
                        for key, label, builtin in section_rows())


def build_after_switch(slug: str, entry=NOT_READ) -> tuple[tuple[SidebarSection, ...], tuple | None, str | None]:
    """`build(edit=True)` right after this request switched `slug` on or off and committed, the
    order of `slug`'s entry in it (for `find_entry`; None: look through every entry), and the
    section its entry is shown in now or was shown in before the switch (None: in none, or not known).

    When that commit moved the `generation` counter from N-1 to N and nothing else, the sidebar
    at N is the one kept at N-1 with this module's entry taken out or put in: the module's row
    is read alone instead of every shown entry (the sidebar of thousands of modules otherwise
    costs a toggle more than everything else). The counter's row stays locked from the move to
    the commit, so no other change can fall between N-1 and N. `entry`: that row (`ENTRY_COLUMNS`
    and `shown_in_sidebar`) when the caller read it after the commit along with its own."""
    generation = state.moved_alone("generation")
    # The one kept at N-1 with this request's `sidebar` counter: one kept before a change of display
    # options or sections (another counter) would put entries back as they were shown before it.
    wanted = None if generation is None else (generation - 1, state.value("sidebar"))
    kept = None if wanted is None else _built().find(True, lambda stamp: stamp == wanted)
    if kept is None and wanted is not None:  # another worker switched modules since this one kept it
        found = _catch_up(*wanted, not_of=slug)
        kept = None if found is None else (wanted, found[0])
    if kept is None:
        built = build(edit=True)
        shown_now = entry is not NOT_READ and entry is not None and entry.shown_in_sidebar
        return built, None, _section_of(entry, built) if shown_now else None
    (_, sidebar_counter), before = kept
    row = db.session.connection().execute(_ENTRY, {"slug": slug}).first() if entry is NOT_READ else entry
    after = before if row is None else _switched(before, slug, row)
    stamp = (generation, sidebar_counter)
    _built().put(stamp, True, after)
    _built().put(stamp, False, BuiltSidebar(section for section in after if section.entries))
    if row is None:
        return after, None, None
    order, key = _entry(row).order, _section_of(row, after)
    shown = row.shown_in_sidebar or any(find_entry(section.entries, slug, order) is not None
                                        for section in before if section.key == key)
    return after, order, key if shown else None


def _section_of(row, sections) -> str | None:
    """The section `row`'s entry is shown in when its module is on and its entry shown, as `_build` places it."""
    return resolve_section(row.section_key, row.menu_section, [section.key for section in sections])


def find_entry(entries: tuple[SidebarEntry, ...], slug: str, order: tuple | None) -> int | None:
    """Where `slug`'s entry is among a section's `entries`, looked up by its `order` (they are in
    that order): a toggle looks for one entry among thousands, in a few steps. Without an order,
    every entry is looked at."""
    if order is None:
        return next((at for at, entry in enumerate(entries) if entry.slug == slug), None)
    at = bisect_left(entries, order, key=_ORDER)
    while at < len(entries) and entries[at].order == order:
        if entries[at].slug == slug:
            return at
        at += 1
    return None


def place_of(entries: tuple[SidebarEntry, ...], order: tuple) -> int:
    """Where an entry of `order` goes among a section's `entries`: after its equals, as built."""
    return bisect_right(entries, order, key=_ORDER)


def _switched(sections: tuple[SidebarSection, ...], slug: str, row, by_slug: bool = False) -> tuple[SidebarSection, ...]:
    """`sections` (edit mode: every section) without `slug`'s entry, and with it where `row`, its
    entry as read now, puts it when `row.shown_in_sidebar` (`row` None: the module is gone). A switch
    changes neither the position nor the name a disabled module's entry was ordered by, and a
    disabled module had no entry, so the entry to take out is found by the order `row` gives it.
    `by_slug`: failing that, by its slug (several switches apart, its manifest may have been edited
    while it was off, and its name with it)."""
    entry = None if row is None else _entry(row)
    target = _section_of(row, sections) if row is not None and row.shown_in_sidebar else None
    changed = []
    for section in sections:
        entries = section.entries
        at = find_entry(entries, slug, entry.order if entry is not None else None)
        if at is None and by_slug and entry is not None:
            at = find_entry(entries, slug, None)
        if at is not None:
            entries = entries[:at] + entries[at + 1:]
        if section.key == target:
            at = place_of(entries, entry.order)
            entries = entries[:at] + (entry,) + entries[at:]
        changed.append(section if entries is section.entries  # not dataclasses.replace: a tenth of a toggle's sidebar work
                       else SidebarSection(section.key, section.stored_label, section.builtin, entries))
    return BuiltSidebar(changed)
