"""Display options of a module's sidebar entry: shown or not, section, custom name, position.

Positions are kept per section (0, 1, 2…, renumbered on every change) over *all* the modules of
the section, enabled or not, so a disabled module keeps its place for when it comes back.
"""

import re
import unicodedata
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..errors import FormError
from ..extensions import db
from ..manifest import TRUE_WORDS
from ..models import MenuSection, Module
from . import audit, modules, sidebar
from .form_values import last_value

LABEL_MAX = 40
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")


def clean_label(raw) -> str:
    """A name the administrator typed: trimmed, inner spaces collapsed, 1–40 characters, plain text.

    Raises ValueError with the sentence to show beside the field.
    """
    text = unicodedata.normalize("NFC", str(raw or ""))
    text = " ".join(text.split())
    if not text:
        raise ValueError(_l("Enter a name of 1 to %(n)s characters.", n=LABEL_MAX))
    if len(text) > LABEL_MAX:
        raise ValueError(_l("The name is too long: at most %(n)s characters.", n=LABEL_MAX))
    if "<" in text or ">" in text:
        raise ValueError(_l("The name is plain text: it may not contain “<” or “>”."))
    if _CONTROL.search(text):
        raise ValueError(_l("The name may not contain control characters."))
    return text


def default_label(module: Module) -> str:
    return module.menu.get("label") or module.name


def default_section(module: Module) -> str | None:
    wanted = module.menu.get("section")
    return wanted if wanted and sidebar.section_exists(wanted) else None


def _section_keys() -> list[str]:
    return [s.key for s in sidebar.sections()]


def fallback_section_key() -> str | None:
    return sidebar.resolve_section(None, None, _section_keys())


def effective_section(module: Module, existing: list[str] | None = None) -> str | None:
    """The section the module's entry is shown in (see `sidebar.resolve_section`)."""
    return sidebar.resolve_section(module.section_key, module.menu.get("section"),
                                   existing if existing is not None else _section_keys())


def section_members(key: str, existing: list[str] | None = None) -> list[Module]:
    """Every installed module whose entry belongs to section `key`, in sidebar order."""
    existing = existing if existing is not None else _section_keys()
    rows = db.session.scalars(select(Module).order_by(Module.position, Module.name, Module.slug))
    return [m for m in rows if effective_section(m, existing) == key]


def _renumber(members: list[Module]) -> None:
    for index, module in enumerate(members):
        if module.position != index:
            module.position = index


def place(module: Module, section_key: str, index: int | None = None) -> None:
    """Put `module` in `section_key` at `index` (0-based; None: keep its place or go last)."""
    existing = _section_keys()
    old_key = effective_section(module, existing)
    others = [m for m in section_members(section_key, existing) if m.slug != module.slug]
    if index is None:
        index = ([m.slug for m in section_members(section_key, existing)].index(module.slug)
                 if old_key == section_key else len(others))
    index = max(0, min(index, len(others)))
    module.section_key = section_key
    others.insert(index, module)
    _renumber(others)
    if old_key and old_key != section_key:
        _renumber([m for m in section_members(old_key, existing) if m.slug != module.slug])


@dataclass
class DisplayForm:
    """What the display-options form shows: values, the choices and any errors."""

    slug: str
    name: str
    show_in_sidebar: bool
    section: str
    label: str
    position: int
    default_label: str
    section_size: int
    state: str
    sections: list[tuple[str, str]] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    saved: bool = False


def current(module: Module) -> DisplayForm:
    existing = sidebar.sections()
    keys = [s.key for s in existing]
    section = effective_section(module, keys) or ""
    members = [m.slug for m in section_members(section, keys)] if section else [module.slug]
    return DisplayForm(
        slug=module.slug, name=module.name, show_in_sidebar=bool(module.show_in_sidebar), section=section,
        label=module.label, position=(members.index(module.slug) + 1) if module.slug in members else 1,
        default_label=default_label(module), section_size=max(len(members), 1), state=module.state,
        sections=[(s.key, sidebar.section_label(s)) for s in existing],
    )


def parse(module: Module, form) -> dict:
    """Check a posted display form; returns the changes, or raises FormError naming each field.

    A field that is absent keeps its value, so a client may post only what it changes.
    """
    changes, errors, typed = {}, {}, {}
    show = last_value(form, "show_in_sidebar")
    if show is not None:
        changes["show_in_sidebar"] = str(show).strip().lower() in TRUE_WORDS
        typed["show_in_sidebar"] = changes["show_in_sidebar"]
    section = last_value(form, "section")
    if section is not None:
        section = str(section)
        typed["section"] = section[:48]
        if len(section) > 48 or not sidebar.section_exists(section):
            errors["section"] = _l("Choose one of the existing menu sections.")
        else:
            changes["section"] = section
    label = last_value(form, "label")
    if label is not None:
        typed["label"] = str(label)[:200]
        try:
            changes["label"] = clean_label(label)
        except ValueError as exc:
            errors["label"] = exc.args[0]
    position = last_value(form, "position")
    if position is not None and str(position).strip() != "":
        typed["position"] = str(position)[:12]
        text = str(position).strip()
        if not re.fullmatch(r"\+?\d{1,6}", text) or int(text) < 1:
            errors["position"] = _l("Enter a whole number of 1 or more.")
        else:
            changes["position"] = int(text)
    if errors:
        raise DisplayFormError(errors, typed)
    return changes


class DisplayFormError(FormError):
    """Refused display options, with what was typed."""


def save(slug_or_module, form, actor: str) -> Module:
    """Apply a posted display form (see `parse`) to one module and record it."""
    module = slug_or_module if isinstance(slug_or_module, Module) else modules.get(slug_or_module)
    changes = parse(module, form)
    before = describe(module)
    if "show_in_sidebar" in changes:
        module.show_in_sidebar = changes["show_in_sidebar"]
    if "label" in changes:
        module.custom_label = None if changes["label"] == default_label(module) else changes["label"]
    target = changes.get("section") or effective_section(module)
    if target:
        index = changes["position"] - 1 if "position" in changes else None
        place(module, target, index)
    after = describe(module)
    if after != before:
        audit.record(actor, "display_changed", module.slug, after)
    db.session.commit()
    return module


def reset(slug: str, actor: str) -> Module:
    """Back to the manifest's defaults: shown, the manifest's section and label, last in the section."""
    module = modules.get(slug)
    module.show_in_sidebar = True
    module.custom_label = None
    target = default_section(module) or fallback_section_key()
    if target:
        place(module, target, None)  # keeps its place if already there, else goes last
    module.section_key = default_section(module)
    audit.record(actor, "display_changed", module.slug, "reset to defaults")
    db.session.commit()
    return module


def describe(module: Module) -> str:
    shown = "shown" if module.show_in_sidebar else "hidden"
    return f"{shown}, section={module.section_key or '-'}, label={module.label}, position={module.position + 1}"


def reorder(order: list[str], actor: str) -> None:
    """The sidebar's edit mode: `order` lists "section:<key>" then "module:<slug>" entries as shown.

    Modules listed after a section marker go to that section in that order; modules of a section
    that are not listed (hidden or disabled ones) keep their relative place after the listed ones.
    """
    existing = {s.key for s in sidebar.sections()}
    plan: dict[str, list[str]] = {}
    current_key = None
    seen = set()
    for item in order[:2000]:
        kind, _, value = str(item).partition(":")
        if kind == "section" and value in existing:
            current_key = value
            plan.setdefault(value, [])
        elif kind == "module" and current_key and value not in seen:
            seen.add(value)
            plan[current_key].append(value)
    if not plan:
        return
    modules_by_slug = {m.slug: m for m in db.session.scalars(select(Module).where(Module.slug.in_(seen)))}
    for key, slugs in plan.items():
        listed = [modules_by_slug[s] for s in slugs if s in modules_by_slug]
        rest = [m for m in section_members(key, existing) if m.slug not in seen]
        for module in listed:
            module.section_key = key
        _renumber(listed + rest)
    audit.record(actor, "display_changed", None, "sidebar order: " + "; ".join(
        f"{key}=" + ",".join(slugs) for key, slugs in plan.items())[:1900])
    db.session.commit()


def move(slug: str, direction: str, actor: str) -> Module:
    """One step up or down within the module's section (the keyboard way to reorder)."""
    module = modules.get(slug)
    existing = {s.key for s in sidebar.sections()}
    key = effective_section(module, existing)
    if key is None:
        return module
    visible = [m for m in section_members(key, existing) if m.state == "enabled" and m.show_in_sidebar]
    members = section_members(key, existing)
    if module not in visible:
        return module
    at = visible.index(module)
    neighbour_at = at - 1 if direction == "up" else at + 1
    if not 0 <= neighbour_at < len(visible):
        return module
    neighbour = visible[neighbour_at]
    i, j = members.index(module), members.index(neighbour)
    members[i], members[j] = members[j], members[i]
    module.section_key = key
    _renumber(members)
    audit.record(actor, "display_changed", module.slug, describe(module))
    db.session.commit()
    return module


def counts_by_section() -> dict[str, int]:
    existing = {s.key for s in sidebar.sections()}
    result = {key: 0 for key in existing}
    for module in db.session.scalars(select(Module)):
        key = effective_section(module, existing)
        if key:
            result[key] += 1
    return result


def next_section_position() -> int:
    return (db.session.scalar(select(func.max(MenuSection.position))) or 0) + 1
