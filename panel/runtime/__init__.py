"""Module runtime: import module code, give it the facade, route `/m/<slug>/` to it."""

PAGES_PREFIX = "/m"  # every module's pages live under /m/<slug>/: the one place that says so


def pages_root(slug: str) -> str:
    """Where a module's pages start, without a trailing slash (its URL map's script name)."""
    return f"{PAGES_PREFIX}/{slug}"
