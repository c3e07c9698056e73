"""Reading posted forms the same way in every service."""


def last_value(form, name):
    """The last value posted for `name` (a hidden "0" followed by a checked box's "1"), or None.

    `form` is a MultiDict from a request, or a plain dict (tests, the command line)."""
    if hasattr(form, "getlist"):
        values = form.getlist(name)
        return values[-1] if values else None
    value = form.get(name)
    return value[-1] if isinstance(value, list) and value else value
