"""Module cards and the sidebar as HTML, rendered once and reused (see fragment_cache).

A card's key is its row as read from the database (`presenters.CARD_COLUMNS`), what the cached
catalog says of it and the request's language and URL root; the sidebar's key is the sidebar as
built from the database. Any change anywhere makes a new key.
"""

from flask import render_template
from markupsafe import Markup

from .fragment_cache import FragmentCache, request_key, token_marker, with_token
from .marketplace.catalog import current_catalog
from .marketplace.presenters import catalog_verdict
from .presenters import module_card

MAX_CARDS = 4096
MAX_SIDEBARS = 64

_cards = FragmentCache(MAX_CARDS)
_sidebars = FragmentCache(MAX_SIDEBARS)


def _card_html(values: tuple, verdict: tuple, per_request: tuple) -> str:
    def render():
        return render_template("partials/module_card.html", card=module_card(values), csrf_token=token_marker)

    return _cards.get_or_render((values, verdict, per_request), render)


def module_card_html(values: tuple) -> Markup:
    """One card, from the values of `presenters.CARD_COLUMNS` (a row, or `presenters.card_values`)."""
    values = tuple(values)
    return with_token(_card_html(values, catalog_verdict(values[0], values[2]), request_key()))


def module_cards_html(rows) -> Markup:
    """The cards of a whole list, in one pass: the catalog and the request key are looked up once."""
    per_request, shown = request_key(), current_catalog()
    html = "\n".join(_card_html(values := tuple(row), catalog_verdict(values[0], values[2], shown), per_request)
                     for row in rows)
    return with_token(html)


def sidebar_html(sidebar: tuple, oob: bool = False) -> Markup:
    """The sidebar (not its edit mode), from `services.sidebar.build()`."""
    html = _sidebars.get_or_render(
        (sidebar, oob, request_key()),
        lambda: render_template("partials/sidebar.html", sidebar=sidebar, oob=oob, csrf_token=token_marker))
    return with_token(html)


def card_and_sidebar_html(card: tuple, sidebar: tuple) -> Markup:
    """A toggle's answer: the card, and the sidebar out of band. Nothing more."""
    return module_card_html(card) + sidebar_html(sidebar, oob=True)


def init_app(app) -> None:
    app.add_template_global(card_and_sidebar_html)
    app.add_template_global(module_card_html)
    app.add_template_global(module_cards_html)
    app.add_template_global(sidebar_html)
