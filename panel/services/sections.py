"""Menu sections of the sidebar: add, rename, reorder, delete.

The panel's own sections show a translated label until the administrator renames them; the
administrator's own labels are plain text, shown as typed (escaped).
"""

import re
import unicodedata
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from ..errors import Conflict, FormError, NotFound
from ..extensions import db
from ..models import MenuSection
from . import audit, display, sidebar

MAX_SECTIONS = 50


class ConfirmationNeeded(Conflict):
    """Deleting a section that holds modules: the administrator must confirm moving them."""

    def __init__(self, message, section_key: str, count: int):
        super().__init__(message)
        self.section_key = section_key
        self.count = count


@dataclass
class SectionRow:
    key: str
    label: str
    stored_label: str
    builtin: bool
    is_default: bool
    modules: int
    first: bool
    last: bool


def get(key: str) -> MenuSection:
    section = db.session.get(MenuSection, key) if isinstance(key, str) and len(key) <= 48 else None
    if section is None:
        raise NotFound(_l("There is no menu section “%(key)s”.", key=str(key)[:60]))
    return section


def default_label() -> str:
    section = db.session.get(MenuSection, sidebar.DEFAULT_SECTION)
    return sidebar.section_label(section) if section else str(sidebar.BUILTIN_SECTIONS["modules"][1])


def rows() -> list[SectionRow]:
    ordered = sidebar.sections()
    counts = display.counts_by_section()
    return [SectionRow(key=s.key, label=sidebar.section_label(s), stored_label=s.label, builtin=bool(s.builtin),
                       is_default=s.key == sidebar.DEFAULT_SECTION, modules=counts.get(s.key, 0),
                       first=i == 0, last=i == len(ordered) - 1)
            for i, s in enumerate(ordered)]


def _unique_label(label: str, except_key: str | None = None, field: str = "label") -> None:
    wanted = label.casefold()
    for section in sidebar.sections():
        if section.key == except_key:
            continue
        if wanted in (section.label.casefold(), sidebar.section_label(section).casefold()):
            raise FormError({field: _l("A menu section named “%(label)s” already exists.", label=label)})


def _clean(label, field: str) -> str:
    try:
        return display.clean_label(label)
    except ValueError as exc:
        raise FormError({field: exc.args[0]}) from None


def _new_key(label: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode().lower()
    base = re.sub(r"[^a-z0-9]+", "_", ascii_text).strip("_")[:40] or "section"
    if not base[0].isalpha():
        base = f"s_{base}"[:40]
    key, n = base, 2
    while db.session.get(MenuSection, key) is not None:
        key, n = f"{base}_{n}", n + 1
    return key


def add(label, actor: str) -> MenuSection:
    label = _clean(label, "label")
    _unique_label(label)
    if len(sidebar.sections()) >= MAX_SECTIONS:
        raise FormError({"label": _l("The sidebar holds at most %(n)s sections.", n=MAX_SECTIONS)})
    section = MenuSection(key=_new_key(label), label=label, builtin=False,
                          position=display.next_section_position())
    db.session.add(section)
    audit.record(actor, "sections_changed", None, f"added “{label}”")
    db.session.commit()
    return section


def rename(key: str, label, actor: str) -> MenuSection:
    section = get(key)
    field = f"label-{key}"
    label = _clean(label, field)
    if label == sidebar.section_label(section):
        return section  # unchanged (a builtin section keeps its translated label)
    _unique_label(label, except_key=key, field=field)
    if label != section.label:
        audit.record(actor, "sections_changed", None, f"renamed “{section.label}” to “{label}”")
        section.label = label
    db.session.commit()
    return section


def move(key: str, direction: str, actor: str) -> None:
    ordered = sidebar.sections()
    section = get(key)
    at = [s.key for s in ordered].index(section.key)
    to = at - 1 if direction == "up" else at + 1
    if 0 <= to < len(ordered):
        ordered[at], ordered[to] = ordered[to], ordered[at]
        _renumber(ordered)
        audit.record(actor, "sections_changed", None, "order: " + ", ".join(s.key for s in ordered))
        db.session.commit()


def reorder(keys: list[str], actor: str) -> None:
    ordered = sidebar.sections()
    by_key = {s.key: s for s in ordered}
    listed = [by_key[k] for k in dict.fromkeys(keys) if k in by_key]
    rest = [s for s in ordered if s not in listed]
    _renumber(listed + rest)
    audit.record(actor, "sections_changed", None, "order: " + ", ".join(s.key for s in listed + rest))
    db.session.commit()


def _renumber(ordered: list[MenuSection]) -> None:
    for index, section in enumerate(ordered):
        if section.position != index:
            section.position = index


def delete(key: str, actor: str, confirmed: bool = False) -> int:
    """Delete a section; its modules move to the default section. Returns how many moved.

    Without `confirmed`, a section holding modules is not deleted: ConfirmationNeeded says why.
    """
    section = get(key)
    if section.key == sidebar.DEFAULT_SECTION:
        raise Conflict(_l("“%(label)s” is the default section and cannot be deleted.",
                          label=sidebar.section_label(section)))
    members = display.section_members(section.key)
    if members and not confirmed:
        raise ConfirmationNeeded(
            ngettext("“%(label)s” holds %(num)s module; confirm to move it to “%(default)s” and delete the section.",
                     "“%(label)s” holds %(num)s modules; confirm to move them to “%(default)s” and delete the section.",
                     len(members), label=sidebar.section_label(section), default=default_label()),
            section.key, len(members))
    default_key = sidebar.DEFAULT_SECTION if sidebar.section_exists(sidebar.DEFAULT_SECTION) else None
    if default_key is None:
        raise Conflict(_l("There is no default section to move the modules to."))
    tail = len(display.section_members(default_key))
    for offset, module in enumerate(members):
        module.section_key = default_key
        module.position = tail + offset
    db.session.flush()
    db.session.delete(section)
    audit.record(actor, "sections_changed", None,
                 f"deleted “{section.label}”" + (f", moved {', '.join(m.slug for m in members)}" if members else ""))
    db.session.commit()
    return len(members)

