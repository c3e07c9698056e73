"""Route converters: the one place where a number in a URL is parsed.

`str.isdigit()` accepts "²" and "①", which `int()` refuses, and a 30-digit id overflows every
database column: both used to answer 500. These converters match plain ASCII digits of a bounded
length only, so anything else is a 404 before a view runs.
"""

from werkzeug.routing import BaseConverter

MAX_ID_DIGITS = 18  # below 2**63: fits every integer column of SQLite and PostgreSQL


class IdConverter(BaseConverter):
    regex = rf"[0-9]{{1,{MAX_ID_DIGITS}}}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(int(value))


CONVERTERS = {"id": IdConverter}
