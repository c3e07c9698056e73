"""Rendered module cards, reused while nothing a card shows has changed.

A list of a thousand installed modules renders a thousand cards; most of them are the same HTML as
on the previous visit. The key holds everything a card shows (its row, as `ModuleCard`), what the
cached catalog says of it, the language and the URL root, so a change in any worker's database
write makes a new key: nothing here can be stale for another process. The CSRF token differs per
request, so cards are stored with a marker in its place and the token is put in on the way out.
"""

import threading
from collections import OrderedDict

from flask import g, render_template, request
from flask_babel import get_locale
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

TOKEN_MARKER = "__panel_csrf_token__"
MAX_CARDS = 4096

_cards: OrderedDict = OrderedDict()
_lock = threading.Lock()


def _marker() -> str:
    return TOKEN_MARKER


def _compact(html: str) -> str:
    """Drop the template's indentation: a third of a card's bytes, times a thousand cards.
    A card holds no <pre> or <textarea>, so no whitespace in it is significant."""
    return "\n".join(filter(None, (line.strip() for line in html.splitlines())))


def module_card_html(card) -> Markup:
    from .marketplace.presenters import card_actions_context

    actions = card_actions_context(card)
    per_request = g.get("_panel_card_keys")
    if per_request is None:
        per_request = g._panel_card_keys = (generate_csrf(), str(get_locale()), request.host_url,
                                            request.script_root)
    token, *request_key = per_request
    key = (card, actions["mp_update"], actions["mp_newer"], *request_key)
    with _lock:
        html = _cards.get(key)
        if html is not None:
            _cards.move_to_end(key)
    if html is None:
        html = _compact(render_template("partials/module_card.html", card=card, csrf_token=_marker))
        with _lock:
            _cards[key] = html
            while len(_cards) > MAX_CARDS:
                _cards.popitem(last=False)
    return Markup(html.replace(TOKEN_MARKER, token) if TOKEN_MARKER in html else html)


def init_app(app) -> None:
    app.add_template_global(module_card_html)
