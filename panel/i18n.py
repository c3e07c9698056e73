"""Which language each request is answered in."""

import functools

from flask import current_app, has_request_context, request, session
from flask_login import current_user
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

LANGUAGE_NAMES = {"en": "English", "fr": "Français", "ru": "Русский"}


def select_locale() -> str:
    config = current_app.config
    if not has_request_context():  # command line, jobs: the default language
        return config["BABEL_DEFAULT_LOCALE"]
    languages = config["LANGUAGES"]
    chosen = getattr(current_user._get_current_object(), "locale", None)  # signed out: none
    if chosen not in languages:
        chosen = session.get("locale")
    if chosen in languages:
        return chosen
    header = request.headers.get("Accept-Language", "")
    found = _best_match(header, tuple(languages)) if len(header) <= 256 else _parsed(header, languages)
    return found or config["BABEL_DEFAULT_LOCALE"]


def _parsed(header: str, languages) -> str | None:
    return parse_accept_header(header, LanguageAccept).best_match(languages)


# A browser sends the same header with every request: parsed once per process, not per request.
_best_match = functools.lru_cache(maxsize=256)(_parsed)
