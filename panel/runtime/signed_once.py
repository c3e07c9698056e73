"""Signed values a browser sends with every request (the session cookie, the CSRF token), each
signature checked once per process.

Checking an HMAC and decoding the value each time was a tenth of a small request. A value that
verified is remembered with what it signs and the moment it was signed, by the secret it was
checked with, so its age is still checked on every request by the caller. A process keeps at most
`max_entries`, all forgotten at once when full (each is one signed-in browser)."""

import threading


class SignedOnce:
    def __init__(self, max_entries: int = 1024):
        self.max_entries = max_entries
        self._checked: dict[tuple, tuple[object, float]] = {}
        self._lock = threading.Lock()

    def get(self, secret, signed: str) -> tuple[object, float] | None:
        """(what `signed` signs, when it was signed) if it verified with `secret` before."""
        return self._checked.get((secret, signed))

    def remember(self, secret, signed: str, value, signed_at: float) -> None:
        with self._lock:
            if len(self._checked) >= self.max_entries:
                self._checked.clear()
            self._checked[(secret, signed)] = (value, signed_at)
