"""Rendered HTML fragments, reused while nothing they show has changed.

A list of a thousand installed modules renders a thousand cards, and every page renders the
sidebar; most of that HTML is the same as on the previous request. Each entry's key holds
everything its fragment shows (the values read from the database in this request), the
language and the URL root, so a write by any worker makes a new key: nothing here can be stale
for another process. The CSRF token differs per request, so fragments are stored with a marker
in its place and the token is put in on the way out.
"""

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

from flask import current_app, g, request, session, template_rendered
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from ..i18n import select_locale

TOKEN_MARKER = "__panel_csrf_token__"
# On `g` while a page shell renders (ui.page_shells): the token stays a marker, filled per request.
SHELL_CALLS = "_panel_shell_calls"


def token_marker() -> str:
    """Stands for `csrf_token()` while a cached fragment renders."""
    return TOKEN_MARKER


def compact(html: str) -> str:
    """Drop the template's indentation: a third of a card's bytes, times a thousand cards.
    Fragments cached here hold no <pre> or <textarea>, so no whitespace in them is significant."""
    return "\n".join(filter(None, (line.strip() for line in html.splitlines())))


def render_fragment(template: str, **context) -> str:
    """A fragment whose template reads only what `context` gives and the environment's globals
    (`url_for`, `request`, `_`, `csrf_token`…), rendered without Flask's context processors: on a
    card or a sidebar entry they were a third of the render. `template_rendered` is still sent."""
    app = current_app._get_current_object()
    found = app.jinja_env.get_template(template)
    html = found.render(context)
    template_rendered.send(app, _async_wrapper=app.ensure_sync, template=found, context=context)
    return html


def request_key() -> tuple:
    """What, besides its own values, changes a fragment between two requests."""
    key = g.get("_panel_fragment_key")
    if key is None:
        # The language as the selector names it: cheaper than Flask-Babel's parsed locale, which a
        # request answered from cached fragments need never build. The scheme and host are what
        # `host_url` is made of, without building it.
        key = g._panel_fragment_key = (select_locale(), request.scheme, request.host, request.script_root)
    return key


def request_token() -> str:
    """This request's CSRF token, asked of Flask-WTF once: each call there re-reads its settings.

    Flask-WTF signs the session's raw token anew on every request. While tokens have no time limit
    (WTF_CSRF_TIME_LIMIT None: a token lives as long as its session) any of those signatures is as
    good as another, so each process signs a raw token once and hands out that signature.
    While a page shell renders, the marker instead: a shell serves every session."""
    if g.get(SHELL_CALLS) is not None:
        return TOKEN_MARKER
    token = g.get("_panel_csrf_token")
    if token is None:
        config = current_app.config
        reusable = config.get("WTF_CSRF_TIME_LIMIT") is None
        key = (config.get("WTF_CSRF_SECRET_KEY") or current_app.secret_key, session.get("csrf_token"))
        token = _signed.get(key) if reusable and key[1] else None
        if token is None:
            token = generate_csrf()
            if reusable:
                with _signed_lock:
                    if len(_signed) >= MAX_SIGNED:
                        _signed.clear()
                    _signed[(key[0], session.get("csrf_token"))] = token
        g._panel_csrf_token = token
    return token


MAX_SIGNED = 4096
_signed: dict[tuple, str] = {}
_signed_lock = threading.Lock()


def with_token(html: str) -> Markup:
    return Markup(html.replace(TOKEN_MARKER, request_token()) if TOKEN_MARKER in html else html)


class FragmentCache:
    """A bounded, least-recently-used map from a key to rendered HTML (with the token marker), or to
    what `ui.page_shells` keeps of a page."""

    def __init__(self, max_entries: int):
        self.max_entries = max_entries
        self._entries: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def lookup(self, key: Hashable) -> str | None:
        with self._lock:
            html = self._entries.get(key)
            if html is not None:
                self._entries.move_to_end(key)
        return html

    def store(self, key: Hashable, html: str) -> str:
        with self._lock:
            self._entries[key] = html
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return html

    def get_or_render(self, key: Hashable, render: Callable[[], str]) -> str:
        html = self.lookup(key)
        return html if html is not None else self.store(key, compact(render()))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
