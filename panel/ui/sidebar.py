"""The sidebar as HTML: every render of it goes through `sidebar_html`.

Outside its edit mode the sidebar is on every page and in every toggle's answer, so that HTML is
rendered once and reused while the sidebar as built from the database (`services.sidebar.build`,
frozen values) and the request's language and URL root stay the same.
"""

from typing import NamedTuple

from flask import render_template
from markupsafe import Markup, escape

from ..services import sidebar
from . import card_shapes
from .fragments import FragmentCache, render_fragment, request_key, token_marker, with_token

MAX_SIDEBARS = 64
# Entries shown per section outside the edit mode; the rest are counted in a last item that leads to
# the enabled modules' list. Every page carries the sidebar: with thousands of modules enabled it was
# megabytes a page. Read at each render (tests lower it), and part of every key its HTML is kept under.
SHOWN_PER_SECTION = 25

_sidebars = FragmentCache(MAX_SIDEBARS)
_changes = FragmentCache(1024)  # a toggle's section with its one entry, by its value (frozen) and the request key


def sidebar_html(oob: bool = False, edit: bool = False, focus: str = "") -> Markup:
    """The sidebar; `oob` swaps it out of band, `edit` is its edit mode (with `focus`, the
    "<slug>:<up|down>" button to keep focused), which is rendered afresh each time."""
    if edit:
        return Markup(render_template("layout/_sidebar.html", sidebar=sidebar.build(edit=True), edit=True,
                                      oob=oob, focus=focus))
    built, shown = sidebar.build(), SHOWN_PER_SECTION
    html = _sidebars.get_or_render(
        (built, oob, shown, request_key()),
        lambda: render_template("layout/_sidebar.html", sidebar=built, oob=oob, shown=shown, csrf_token=token_marker))
    return with_token(html)


def fragment_with_sidebar(template: str, **context) -> Markup:
    """A fragment, and the sidebar out of band (the fragment changed what the sidebar shows)."""
    return Markup(render_template(template, **context)) + sidebar_html(oob=True)


class EntryFields(NamedTuple):
    """What a sidebar entry's template prints, in the form `card_shapes` fills (slug first)."""

    slug: str
    label: str
    icon: str
    url: str


ENTRY_TEMPLATE = "layout/_sidebar_entry.html"


def _render_entry(fields: EntryFields) -> str:
    return render_fragment(ENTRY_TEMPLATE, entry=fields)


def entry_html(entry) -> str:
    """One entry's HTML, its text put into the entry template's shape (`card_shapes`): a toggle at
    thousands of modules shows an entry no request rendered before, and running the template for it
    was most of the sidebar's part of the answer."""
    return card_shapes.card_html(EntryFields(entry.slug, entry.label, entry.icon, entry.url),
                                 (request_key(), ENTRY_TEMPLATE), _render_entry)


def _out_of_band(where: str, html: str) -> str:
    """htmx inserts the children of an out-of-band element `where` says ("beforeend:#id"…)."""
    return f'<div hx-swap-oob="{escape(where)}">{html}</div>'


def more_html(section_key: str, more: int) -> str:
    """The last item of a section showing `SHOWN_PER_SECTION` of its entries: how many more there are."""
    return _changes.get_or_render((section_key, more, request_key()), lambda: render_fragment(
        "layout/_sidebar_more.html", section_key=section_key, more=more))


def sidebar_change_html(slug: str, entry=sidebar.NOT_READ) -> Markup:
    """What switching `slug` on or off changed in the sidebar, out of band: its entry taken out and,
    when it is shown, put back where it now belongs (with its section when it is the only entry);
    a section left empty taken out; in a section with more entries than it shows, the entry that
    came into view or left it and the count of the others. Some hundred bytes at any size, where the
    whole sidebar of a thousand modules is tens of kilobytes. `entry`: as
    `services.sidebar.build_after_switch` takes it."""
    every, order, key = sidebar.build_after_switch(slug, entry)  # the edit mode's build lists the empty sections too
    shown = [section for section in every if section.entries]
    parts = [f'<li id="sidebar-module-{escape(slug)}" hx-swap-oob="delete"></li>']
    parts += [f'<div id="sidebar-section-{escape(s.key)}" hx-swap-oob="delete"></div>'
              for s in every if not s.entries]
    limit = SHOWN_PER_SECTION
    for index, section in enumerate(shown):
        at = sidebar.find_entry(section.entries, slug, order)
        if at is None:
            continue
        if len(section.entries) == 1:  # the section appears with it
            following = shown[index + 1].key if index + 1 < len(shown) else None
            where = f"beforebegin:#sidebar-section-{following}" if following else "beforeend:#sidebar-sections"
            parts.append(f'<div id="sidebar-section-{escape(section.key)}" hx-swap-oob="delete"></div>')
            parts.append(_out_of_band(where, _changes.get_or_render(
                (section, limit, request_key()),
                lambda: render_fragment("layout/_sidebar_section.html", section=section, shown=limit))))
        else:
            before = [e.slug for i, e in enumerate(section.entries[:limit + 1]) if i != at]
            parts += _window_change(section, slug, before, len(section.entries) - 1, limit)
        break
    else:  # switched off (or not shown): a longer section than it shows brings its next entry into view
        section = next((s for s in shown if s.key == key), None)
        if section is not None and order is not None:
            slugs = [e.slug for e in section.entries[:limit + 1]]
            at = sidebar.place_of(section.entries, order)
            parts += _window_change(section, slug, slugs[:at] + [slug] + slugs[at:], len(section.entries) + 1, limit)
    return Markup("".join(parts))


def _window_change(section, switched: str, before: list[str], before_count: int, limit: int) -> list[str]:
    """The changes that turn a section showing the first `limit` of `before` (slugs; `before_count`
    entries in all) into one showing the first `limit` of its entries now, and the count of the rest:
    in a section that shows all its entries, the switched-on entry put before the one that follows it.
    The `switched` entry itself is taken out by the caller."""
    before, now = before[:limit], section.entries[:limit]
    shown_now = [e.slug for e in now]
    shown_before, still_shown = set(before), set(shown_now)
    more_before, more_now = max(0, before_count - limit), max(0, len(section.entries) - limit)
    key = escape(section.key)
    parts = [f'<li id="sidebar-module-{escape(s)}" hx-swap-oob="delete"></li>' for s in before
             if s not in still_shown and s != switched]
    for at, entry in enumerate(now):
        if entry.slug in shown_before:
            continue
        following = next((s for s in shown_now[at + 1:] if s in shown_before), None)
        where = (f"beforebegin:#sidebar-module-{following}" if following
                 else f"beforebegin:#sidebar-more-{key}" if more_before and more_now
                 else f"beforeend:#sidebar-entries-{key}")
        parts.append(_out_of_band(where, entry_html(entry)))
    if more_before and not more_now:
        parts.append(f'<li id="sidebar-more-{key}" hx-swap-oob="delete"></li>')
    elif more_now and not more_before:
        parts.append(_out_of_band(f"beforeend:#sidebar-entries-{key}", more_html(section.key, more_now)))
    elif more_now != more_before:
        parts.append(f'<span id="sidebar-more-count-{key}" hx-swap-oob="true">{more_now}</span>')
    return parts
