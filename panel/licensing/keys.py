"""License keys and coupon codes, checked offline so a typo is caught before any request.

    key     PANEL-XXXXX-XXXXX-XXXXX-XXXXX      (20 characters after the prefix)
    coupon  PANELUPD-XXXXX-XXXXX-XXXXX         (15 characters after the prefix)

The alphabet has no look-alike characters (no 0/O, 1/I/L), 31 characters in all. The last
character is a check character: a weighted sum of the others modulo 31 (a prime, with weights
1..n all different and non-zero), so every single wrong character and every swap of two
neighbouring characters is caught.
"""

import re
import secrets

from flask_babel import lazy_gettext as _l

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
VALUE = {char: index for index, char in enumerate(ALPHABET)}
KEY_PREFIX = "PANEL"
COUPON_PREFIX = "PANELUPD"
KEY_LENGTH = 20
COUPON_LENGTH = 15
GROUP = 5
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015_]+")  # spaces, hyphens, dashes a word processor makes


class KeyFormatError(ValueError):
    """A key or coupon that cannot be right. str(): one sentence for the user; `reason` is always
    "bad_format" (the store's reason code for it); `problem` says which check failed: "empty",
    "prefix", "length", "character" or "typo" (a wrong check character)."""

    reason = "bad_format"

    def __init__(self, problem: str, message):
        super().__init__(message)
        self.problem = problem
        self.message = message

    def __str__(self) -> str:
        return str(self.message)


def check_character(body: str) -> str:
    return ALPHABET[sum(weight * VALUE[char] for weight, char in enumerate(body, 1)) % len(ALPHABET)]


def _grouped(prefix: str, body: str) -> str:
    return "-".join([prefix] + [body[i:i + GROUP] for i in range(0, len(body), GROUP)])


def _split(text) -> tuple[str, str]:
    """(prefix, body) of a key or coupon typed any way: any case, spaces or dashes anywhere."""
    squashed = _SEPARATORS.sub("", str(text or "")).upper()
    if squashed.startswith(COUPON_PREFIX) and len(squashed) == len(COUPON_PREFIX) + COUPON_LENGTH:
        return COUPON_PREFIX, squashed[len(COUPON_PREFIX):]
    if squashed.startswith(KEY_PREFIX):
        return KEY_PREFIX, squashed[len(KEY_PREFIX):]
    return "", squashed


def normalize(text) -> str:
    """The canonical spelling (`PANEL-ABCDE-…`) of a key or coupon as typed; other text trimmed and upper-cased."""
    prefix, body = _split(text)
    if prefix == COUPON_PREFIX or (prefix == KEY_PREFIX and len(body) == KEY_LENGTH):
        return _grouped(prefix, body)
    return " ".join(str(text or "").split()).upper()


# Whole sentences per kind (not "a %(what)s"), so every language can word them its own way.
MESSAGES = {
    KEY_PREFIX: {
        "empty": _l("Enter a license key."),
        "prefix": _l("A license key starts with PANEL-."),
        "length": _l("A license key has 20 characters after PANEL-, in four groups of five."),
        "typo": _l("This license key has a typo: check it character by character."),
    },
    COUPON_PREFIX: {
        "empty": _l("Enter a coupon code."),
        "prefix": _l("A coupon code starts with PANELUPD-."),
        "length": _l("A coupon code has 15 characters after PANELUPD-, in three groups of five."),
        "typo": _l("This coupon code has a typo: check it character by character."),
    },
}


def _check(text, prefix: str, length: int) -> str:
    messages = MESSAGES[prefix]
    found_prefix, body = _split(text)
    if not body and not found_prefix:
        raise KeyFormatError("empty", messages["empty"])
    if found_prefix != prefix:
        raise KeyFormatError("prefix", messages["prefix"])
    if len(body) != length:
        raise KeyFormatError("length", messages["length"])
    wrong = sorted({char for char in body if char not in VALUE})
    if wrong:
        chars = ", ".join(wrong)  # lazy with its values: the store's app has no Babel to format it now
        raise KeyFormatError("character", _l("A license key never contains %(chars)s: check the characters you typed.",
                                             chars=chars) if prefix == KEY_PREFIX else
                             _l("A coupon code never contains %(chars)s: check the characters you typed.", chars=chars))
    if check_character(body[:-1]) != body[-1]:
        raise KeyFormatError("typo", messages["typo"])
    return _grouped(prefix, body)


def check_key(text) -> str:
    """The normalized license key, or KeyFormatError saying what is wrong with it."""
    return _check(text, KEY_PREFIX, KEY_LENGTH)


def check_coupon(text) -> str:
    """The normalized coupon code, or KeyFormatError saying what is wrong with it."""
    return _check(text, COUPON_PREFIX, COUPON_LENGTH)


def is_valid_key(text) -> bool:
    try:
        check_key(text)
    except KeyFormatError:
        return False
    return True


def is_valid_coupon(text) -> bool:
    try:
        check_coupon(text)
    except KeyFormatError:
        return False
    return True


def with_check(prefix: str, body: str) -> str:
    """`body` (one character short) completed with its check character, grouped."""
    body = body.upper()
    return _grouped(prefix, body + check_character(body))


def _random_body(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length - 1))


def new_key() -> str:
    return with_check(KEY_PREFIX, _random_body(KEY_LENGTH))


def new_coupon() -> str:
    return with_check(COUPON_PREFIX, _random_body(COUPON_LENGTH))
