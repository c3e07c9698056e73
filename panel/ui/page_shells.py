"""Whole pages rendered once and reused while their context is the same.

A page is its template run over the context its builder made, plus two parts that change between
two requests with the same context: the top bar (the user, this page's address for the language
switch) and the sidebar (what any worker switched since). Those are *holes*: the template runs once
with each hole standing as a marker, remembered with the arguments it was called with, and every
request fills them from the real functions (cached fragments themselves). The CSRF token stays a
marker too. The rest of the page, from `<!doctype html>` to the cards and the pager, is reused as
it was rendered: in a busy panel that is most of a page's work.

The key is derived from the context itself (`freeze`), plus the request key (language, URL root),
so nothing the template reads can be missing from it. A context holding anything `freeze` cannot
vouch for (an ORM object, a callable other than a module-level function) is rendered afresh each
time, as is a page with a message to flash, and a page that holds a session's token anyway.
"""

import dataclasses
import datetime
import functools
import re
import types
from collections.abc import Callable, Hashable
from decimal import Decimal
from enum import Enum

from flask import current_app, g, render_template, session
from markupsafe import Markup
from sqlalchemy.engine import Row

from .cards import Card
from .fragments import SHELL_CALLS, TOKEN_MARKER, FragmentCache, request_key, request_token
from .market_cards import MarketCard

MAX_PAGES = 64  # a key holds its context (a page of cards): a few hundred kilobytes at most each
_HOLE = re.compile(r"__panel_hole_(\d+)__")
# Value types that are their own fragment cache's key already: tuples of plain values, hashed as they are.
VALUE_TYPES = (Card, MarketCard)
_SCALARS = (type(None), bool, int, float, str, bytes, Decimal, Enum, datetime.date, datetime.time,
            datetime.timedelta)


class Unfreezable(Exception):
    """The context holds a value whose rendering could depend on more than its own contents."""


def freeze(value) -> Hashable:
    """A hashable value equal for two contexts exactly when a template sees the same values in them."""
    kind = type(value)
    if kind in VALUE_TYPES:
        return (kind, value)
    if isinstance(value, _SCALARS):
        # Markup and str of the same text render differently (one is escaped): the type is in the key.
        return (kind, value) if kind not in (str, int, bool, type(None)) else value
    if isinstance(value, Row):
        return (Row, *(freeze(item) for item in value))
    if isinstance(value, tuple | list):
        return (kind, *(freeze(item) for item in value))  # named tuples and SQLAlchemy rows too
    if isinstance(value, dict):
        return (dict, *((key, freeze(item)) for key, item in value.items()))
    if isinstance(value, frozenset | set):
        return (frozenset, frozenset(freeze(item) for item in value))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (kind, *(freeze(getattr(value, f.name)) for f in dataclasses.fields(value)))
    if isinstance(value, types.FunctionType) and "<locals>" not in value.__qualname__:
        return value  # a module-level function: the same function renders the same way
    raise Unfreezable(kind.__name__)


class PageShells:
    """A bounded, least-recently-used map from (template, request key, frozen context) to a shell:
    the page's text split around its holes, with each hole's function and arguments."""

    def __init__(self, max_entries: int = MAX_PAGES):
        self._kept = FragmentCache(max_entries)

    def render(self, template: str, context: dict) -> str:
        """The page, from its shell when one is kept for this context, else rendered and kept."""
        if session.get("_flashes") or current_app.jinja_env.auto_reload:  # templates may change on disk
            return render_template(template, **context)  # the messages are shown once: not a shell's
        try:
            key = (template, request_key(), freeze(context))
        except Unfreezable:
            return render_template(template, **context)
        shell = self._kept.lookup(key)
        if shell is None:
            shell = _render_shell(template, context)
            if shell is None:
                return render_template(template, **context)
            self._kept.store(key, shell)
        return _fill(shell)

    def clear(self) -> None:
        self._kept.clear()


def hole(function: Callable[..., Markup]) -> Callable[..., Markup]:
    """`function` as a template global that is a hole: while a shell renders it is not called but
    remembered, with its arguments, and stands as a marker; otherwise it is `function`."""
    @functools.wraps(function)
    def call(*args, **kwargs):
        calls = g.get(SHELL_CALLS)
        if calls is None:
            return function(*args, **kwargs)
        calls.append((function, args, kwargs))
        return Markup(f"__panel_hole_{len(calls) - 1}__")
    return call


def _render_shell(template: str, context: dict) -> tuple | None:
    """The template run with a marker for each hole and for the token: (texts, calls), where the
    page is texts[0] + fill(calls[0]) + texts[1] + … and each call is (function, args, kwargs);
    None when the page holds this session's token anyway (a shell is for every session)."""
    calls = g.setdefault(SHELL_CALLS, [])
    try:
        html = render_template(template, **context)
    finally:
        g.pop(SHELL_CALLS, None)
    if request_token() in html:
        return None
    parts = _HOLE.split(html)
    return tuple(parts[0::2]), tuple(calls[int(index)] for index in parts[1::2])


def _fill(shell: tuple) -> str:
    texts, calls = shell
    token = request_token()
    out = [texts[0].replace(TOKEN_MARKER, token)]
    for (function, args, kwargs), text in zip(calls, texts[1:]):
        out.append(str(function(*args, **kwargs)))
        out.append(text.replace(TOKEN_MARKER, token))
    return "".join(out)


def page_shells() -> PageShells:
    """This application's shells (each app has its own templates, settings and database)."""
    found = current_app.extensions.get("panel_page_shells")
    if found is None:
        found = current_app.extensions.setdefault("panel_page_shells", PageShells())
    return found
