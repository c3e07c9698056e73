"""The module card: its view model, and its HTML rendered once and reused (see ui.fragments).

`Card` holds everything `modules/_card.html` shows: the module's columns, read by name, and what
the cached catalog says of it. The template reads nothing else, and the fragment cache's key is
the card itself (plus the request's language and URL root), so nothing the card shows can be
missing from its key. Every card the panel serves (the list, a toggle, a rollback, a display
change…) comes from `card_html` or `cards_html`.
"""

from functools import lru_cache
from typing import NamedTuple

from markupsafe import Markup
from sqlalchemy import bindparam, select

from ..marketplace import catalog
from ..runtime import plain_rows, state
from ..models import DEFAULT_ICON, Module, manifest_menu
from ..services import licenses, module_counts, modules
from ..services import sidebar as sidebar_rows
from ..versions import newer, older
from . import card_shapes
from .fragments import FragmentCache, render_fragment, request_key, token_marker, with_token
from .license import badge as license_badge
from .sidebar import sidebar_change_html

SHORT_DESCRIPTION = 160
MAX_CARDS = 4096
LIST_PAGE_SIZE = 50  # cards on one /modules page

_cards = FragmentCache(MAX_CARDS)


class Card(NamedTuple):
    """What a card shows. Immutable, so it is its own cache key; a named tuple, so a list of a
    thousand cards builds, hashes and compares its keys at the speed of tuples."""

    slug: str
    name: str
    version: str
    category: str
    author: str
    description: str        # shortened to SHORT_DESCRIPTION characters
    docs_url: str
    state: str
    error: str | None
    icon: str
    previous_version: str | None
    rollback_is_older: bool  # the kept version is older than the installed one ("Roll back" vs "Return")
    update: str | None       # the compatible catalog version offered as an update
    newer: bool              # the catalog has a newer version, compatible or not ("See changes")
    # licensing: None for a free module, else "owned" | "trial" | "ended" | "none", and its words
    license_kind: str | None
    license_text: str
    # The update policy (issue 11): a held module or a skipped version offers no update.
    pinned: bool = False
    skipped_version: str | None = None
    auto_update: bool = False


# The columns a card reads, in the order of `_card`'s arguments; the icon is read inside the
# database, so a list of a thousand cards decodes no manifest.
CARD_COLUMNS = (Module.slug, Module.name, Module.version, Module.category, Module.author, Module.description,
                Module.docs_url, Module.state, Module.error,
                Module.manifest[("menu", "icon")].as_string().label("icon"), Module.previous_version)
# What the shown catalog and the update policy say of a module (services.modules), joined in the same
# statement as its row: a page of cards is one statement, not three, and so is a toggle's card.
SIDE_COLUMNS, SIDE_JOINS = modules.SIDE_COLUMNS, modules.SIDE_JOINS
PAGE_COLUMNS = (*CARD_COLUMNS, *SIDE_COLUMNS)

_PAGE = modules.ListingPage(PAGE_COLUMNS, SIDE_JOINS)  # see services.modules.ListingPage


def _side(*counted) -> object:
    return modules.outer_joined(select(*SIDE_COLUMNS, sidebar_rows.SHOWN.label("shown_in_sidebar"),
                                       *sidebar_rows.ENTRY_COLUMNS, *counted).select_from(Module)
                                .where(Module.slug == bindparam("slug")), SIDE_JOINS)


# A toggle's card reads the module's sidebar entry in the same statement, and the counts above the
# list with the `generation` they were counted at, unless they could be derived (services.module_counts):
# its answer carries all three.
_SIDE = _side()
_SIDE_COUNTED = _side(*modules.COUNT_COLUMNS, *state.stamp_columns("generation"))
_COUNTED = slice(-len(modules.COUNT_COLUMNS) - 1, -1)


# Parsing two versions costs more than the rest of a card; a list compares the same pairs each time.
_older = lru_cache(maxsize=4096)(older)


def catalog_verdict(found: tuple | None, version: str) -> tuple[str | None, bool]:
    """What the cached catalog says of an installed module, from its (compatible, newest) versions
    there (None: not in the catalog): (the compatible version to update to, or None; whether any
    newer version exists, compatible or not)."""
    if found is None:
        return None, False
    compatible, newest = found
    update = compatible if newer(compatible, version) else None
    return update, newer(newest, version)


NO_POLICY = (False, None, False)


def _card(slug, name, version, category, author, description, docs_url, state, error, icon, previous_version,
          found: tuple | None, policy: tuple = NO_POLICY, paid: frozenset | None = None) -> Card:
    """`paid`: the catalog's paid modules, when the caller read them once for many cards."""
    description = description or ""
    if len(description) > SHORT_DESCRIPTION:
        description = description[: SHORT_DESCRIPTION - 1].rstrip() + "…"
    update, newer = catalog_verdict(found, version)
    license_kind, license_text = (license_badge(slug) if paid is None or slug in paid else None) or (None, "")
    pinned, skipped_version, auto_update = policy
    if pinned or (update is not None and update == skipped_version):
        update = None
    return Card(slug, name, version, category, author, description, docs_url, state, error, icon or DEFAULT_ICON,
                previous_version, bool(previous_version) and _older(previous_version, version), update, newer,
                license_kind, license_text, pinned, skipped_version, auto_update)


def card_of(module) -> Card:
    """The card of a `Module` or `ModuleRecord` (a toggle's answer: the catalog and policy looked up for it)."""
    return _card_and_more(module)[0]


def _card_and_more(module) -> tuple[Card, dict[str, int] | None, object]:
    """The card; the counts above the list and the module's sidebar entry (with `shown_in_sidebar`).

    After a toggle whose counts are derived (services.module_counts), all three come from what it
    read with its lock and wrote: no statement after its commit. Otherwise they are read in one
    statement (the counts and the entry None and unread if the row is gone)."""
    counts = module_counts.after_switch()
    side = modules.switch_side(module.slug)
    if side is not None and counts is not None:
        read = sidebar_rows.entry_of(module)
    else:
        read = next(iter(plain_rows.rows(_SIDE if counts else _SIDE_COUNTED, {
            "slug": module.slug, "generation_id": catalog.current_catalog().generation_id})), None)
        side = read[:len(SIDE_COLUMNS)] if read else (None,) * len(SIDE_COLUMNS)
    compatible, newest, pinned, skipped_version, auto_update = side
    card = _card(module.slug, module.name, module.version, module.category, module.author, module.description,
                 module.docs_url, module.state, module.error, manifest_menu(module.manifest).get("icon"),
                 module.previous_version, None if newest is None else (compatible, newest),
                 (bool(pinned), skipped_version, bool(auto_update)))
    if read is None:
        return card, None, sidebar_rows.NOT_READ
    if counts is None:
        counts = modules.counts_of(*read[_COUNTED])
        module_counts.keep(counts, read.stamp_generation or 0)
    return card, counts, read


def card_of_row(row, paid: frozenset | None = None) -> Card:
    """The card of a row of `PAGE_COLUMNS`: unpacked in their order, several times faster than
    reading a row's columns by name, for a list of a thousand; `paid` as in `_card`."""
    *columns, compatible, newest, pinned, skipped_version, auto_update = row
    return _card(*columns, None if newest is None else (compatible, newest),
                 (bool(pinned), skipped_version, bool(auto_update)), paid)


def _render(card: Card) -> str:
    return render_fragment("modules/_card.html", card=card, csrf_token=token_marker)


def _card_html(card: Card, per_request: tuple) -> str:
    key = (card, per_request)
    html = _cards.lookup(key)
    return html if html is not None else _cards.store(key, card_shapes.card_html(card, per_request, _render))


def forget_rendered() -> None:
    """Drop every rendered card and card shape (what a fresh worker starts with)."""
    _cards.clear()
    card_shapes.clear()


def card_html(module) -> Markup:
    """One card, from a `Module` or `ModuleRecord` (a toggle answers from what it wrote)."""
    return with_token(_card_html(card_of(module), request_key()))


def cards_of_rows(rows) -> list[Card]:
    """The cards of a list, from rows of `PAGE_COLUMNS`, with the paid modules looked up once."""
    paid = licenses.paid_slugs()
    return [card_of_row(row, paid) for row in rows]


def cards_html(cards: list[Card]) -> Markup:
    """The cards of a list (`cards_of_rows`), with the request key looked up once."""
    per_request = request_key()
    return with_token("\n".join(_card_html(card, per_request) for card in cards))


def card_oob_html(module) -> Markup:
    """Another module's card, swapped out of band (a toggle that also switched its dependencies)."""
    html = str(card_html(module))  # plain text: Markup.replace would escape the attribute
    marker = f'id="module-{module.slug}"'
    return Markup(html.replace(marker, f'{marker} hx-swap-oob="true"', 1))


def card_with_sidebar_html(module) -> Markup:
    """A toggle's answer (and a rollback's): the card, and out of band what changed in the sidebar
    (that module's entry, not the whole sidebar) and the counts. A few kilobytes at any size."""
    card, counts, entry = _card_and_more(module)
    return (with_token(_card_html(card, request_key())) + sidebar_change_html(module.slug, entry)
            + counts_html(oob=True, counts=counts))


def module_list_context(query: str = "", state: str = "", page: int = 1) -> dict:
    """One page of installed modules, filtered; `cards` (`Card` values, everything each shows) become
    HTML through `cards_html` as the page renders, so a page kept whole (ui.page_shells) skips them.
    Its cost follows the page size, not how many modules are installed."""
    state = state if state in modules.STATES else ""
    page, generation_id = max(1, page), catalog.current_catalog().generation_id
    # The page and the counts above it in one statement; counted alone when the page is empty.
    rows, counts = _PAGE.rows_and_counts(query, state, (page - 1) * LIST_PAGE_SIZE, LIST_PAGE_SIZE,
                                         generation_id=generation_id)
    counts = counts or modules.counts()
    # Without a search the counts above the list already say how many rows match.
    total = modules.listing_count(query, state) if query.strip() else counts[state or "installed"]
    pages = max(1, -(-total // LIST_PAGE_SIZE))
    if page > pages:  # past the last page (an old link): the last one
        page = pages
        rows = _PAGE.rows(query, state, (page - 1) * LIST_PAGE_SIZE, LIST_PAGE_SIZE, generation_id=generation_id)
    return {
        "cards": cards_of_rows(rows),
        "query": query, "state": state, "states": modules.STATES, "counts": counts,
        "list_args": {name: value for name, value in (("q", query), ("state", state)) if value},
        "pager": {"page": page, "pages": pages, "total": total, "first": (page - 1) * LIST_PAGE_SIZE + 1,
                  "last": min(total, page * LIST_PAGE_SIZE)},
    }


_count_shapes = FragmentCache(16)
# The template runs once per language and URL root with these in place of the numbers, which are then
# put in: a toggle changes the counts, so kept renders of each set of numbers were rarely used again.
COUNT_MARKERS = {state: f"__panel_count_{state}__" for state in ("enabled", "disabled", "failed")}


def counts_html(oob: bool = False, counts: dict[str, int] | None = None) -> Markup:
    """The installed/enabled/disabled/failed counts above the list (a toggle sends them out of band);
    `counts` when the caller read them already."""
    counts = counts or modules.counts()
    html = _count_shapes.get_or_render((oob, request_key()), lambda: render_fragment(
        "modules/_counts.html", counts=COUNT_MARKERS, oob=oob))
    for state, marker in COUNT_MARKERS.items():
        html = html.replace(marker, str(int(counts[state])))
    return Markup(html)
