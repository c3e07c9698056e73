"""Marketplace cards: everything a card shows as one hashable value, its HTML reused while it is unchanged.

A marketplace page renders 24 cards, each through four templates: on a page served again and
again that was most of the page's cost. The card's whole context is `MarketCard`, built here from
the catalog entry, the button (`action_view`) and the license offer; the template receives only
its fields, so nothing it reads can be missing from the key. The key adds the request key
(language and URL root: the labels are translated, the URLs built), and the CSRF token is put in on
the way out, as for the installed modules' cards.
"""

from typing import NamedTuple

from flask import render_template
from markupsafe import Markup

from .fragments import TOKEN_MARKER, FragmentCache, request_key, with_token


class MarketEntry(NamedTuple):
    """What a card shows of a catalog entry."""
    slug: str
    name: str
    version: str
    author: str
    category: str
    summary: str
    icon: str
    docs_url: str
    paid: bool
    requires: bool  # whether it needs other modules: the Install button opens the plan first


class Action(NamedTuple):
    """The card's button (`ui.marketplace.action_view`)."""
    kind: str
    label: str
    icon: str
    css: str
    version: str | None
    reinstall: str | None
    reinstall_icon: str | None
    reinstall_css: str | None


class Offer(NamedTuple):
    """A paid module's license part (`ui.license.marketplace_license`)."""
    kind: str
    text: str
    buy_url: str
    trial_days: int
    can_try: bool
    trial_url: str


class MarketCard(NamedTuple):
    entry: MarketEntry
    action: Action
    license: Offer | None
    url: str


def market_card(entry, action: dict, license: dict | None, url: str) -> MarketCard:
    return MarketCard(
        MarketEntry(entry["slug"], entry["name"], entry["version"], entry.get("author") or "",
                    entry.get("category") or "", entry.get("summary") or "", entry.get("icon") or "",
                    entry.get("docs_url") or "", bool(entry.get("paid")), bool(entry.get("requires"))),
        Action(*(action.get(name) for name in Action._fields)),
        None if license is None else Offer(*(license[name] for name in Offer._fields)),
        url)


_cards = FragmentCache(2048)


def _html(card: MarketCard, labels: dict, base: str, per_request: tuple) -> str:
    return _cards.get_or_render((card, per_request), lambda: render_template(
        "marketplace/_card.html", entry=card.entry, action=card.action, license=card.license, url=card.url,
        labels=labels, csrf=TOKEN_MARKER, mp_base=base))


def market_cards_html(cards: list[MarketCard], labels: dict, base: str) -> Markup:
    """The cards' HTML with this request's CSRF token (a template global: a page kept whole skips it).
    `labels` are `action_labels()`, translated in the request's language (which the key holds)."""
    per_request = request_key()
    return with_token("\n".join(_html(card, labels, base, per_request) for card in cards))

