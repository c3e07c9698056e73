"""Sign-in throttling: failures counted per account name and per client address, in the database.

After `FREE_FAILURES` failures in a row a key must wait before the next try, twice as long after
each further failure, up to `SIGN_IN_LOCKOUT_SECONDS`. Every name is counted, existing or not, so
the answer never tells whether an account exists. A success clears the account's count; a
count left alone for `WINDOW` starts again from zero.
"""

from datetime import timedelta

from flask import current_app
from sqlalchemy import case, delete, select, update

from ..extensions import db
from ..models import SignInFailure, User, utcnow
from ..runtime import state
from . import audit, sessions, users

FREE_FAILURES = 3
WINDOW = timedelta(hours=1)


class Throttled(Exception):
    def __init__(self, seconds: int):
        super().__init__(seconds)
        self.seconds = seconds


def _keys(username: str, address: str) -> list[str]:
    return [f"user:{(username or '').strip().lower()[:90]}", f"addr:{(address or '')[:90]}"]


def wait_seconds(username: str, address: str) -> int:
    """How long these two keys must still wait before a password is even checked (0: not at all)."""
    now = utcnow()
    locked = db.session.scalars(select(SignInFailure.locked_until).where(
        SignInFailure.key.in_(_keys(username, address)), SignInFailure.locked_until > now)).all()
    return max((int((until - now).total_seconds()) + 1 for until in locked), default=0)


def _delay(failures: int) -> timedelta:
    if failures <= FREE_FAILURES:
        return timedelta(0)
    cap = current_app.config["SIGN_IN_LOCKOUT_SECONDS"]
    return timedelta(seconds=min(2 ** (failures - FREE_FAILURES), cap))


def _count_failure(key: str) -> None:
    now = utcnow()
    insert = state.upsert_insert(db.engine.dialect.name) or state.upsert_insert("sqlite")
    table = SignInFailure.__table__
    # One atomic statement: two workers failing at once both count.
    stmt = insert(table).values(key=key, failures=1, last_at=now, locked_until=None)
    stmt = stmt.on_conflict_do_update(index_elements=[table.c.key], set_={
        "failures": case((table.c.last_at < now - WINDOW, 1), else_=table.c.failures + 1),
        "last_at": now})
    db.session.execute(stmt)
    failures = db.session.scalar(select(SignInFailure.failures).where(SignInFailure.key == key))
    if _delay(failures):
        db.session.execute(update(SignInFailure).where(SignInFailure.key == key)
                           .values(locked_until=now + _delay(failures)))


def sign_in(username: str, password: str, address: str, remember: bool) -> User | None:
    """The user, signed in to a new session; None for a wrong name or password; `Throttled` while
    this name or address must wait. Every outcome goes to the audit trail with the address."""
    name = (username or "").strip()[:64] or "?"
    seconds = wait_seconds(username, address)
    if seconds:
        audit.record(name, "sign_in_throttled", None, address)
        db.session.commit()
        raise Throttled(seconds)
    user = users.authenticate(username, password)
    if user is None:
        for key in _keys(username, address):
            _count_failure(key)
        audit.record(name, "sign_in_failed", None, address)
        db.session.commit()
        return None
    db.session.execute(delete(SignInFailure).where(SignInFailure.key == _keys(username, address)[0]))
    audit.record(user.username, "signed_in", None, address)
    sessions.start(user, remember, address)  # commits
    return user
