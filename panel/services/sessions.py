"""Server-side sessions: what the session and "keep me signed in" cookies point at.

A cookie holds a random token; the database holds its hash, its user and when it ends. Signing
out deletes the row, so neither cookie opens a page again, on any worker or node; changing the
password or "sign out everywhere" deletes every row of that user.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from flask_login import UserMixin
from sqlalchemy import bindparam, delete, select

from ..extensions import db
from ..models import User, UserSession, utcnow
from ..runtime import state


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(user: User, remember: bool, address: str = "") -> str:
    """A new session for `user`; sets and returns its token (what Flask-Login stores)."""
    config = current_app.config
    lifetime = (timedelta(days=config["REMEMBER_DAYS"]) if remember
                else timedelta(hours=config["SESSION_HOURS"]))
    token = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.execute(delete(UserSession).where(UserSession.user_id == user.id, UserSession.expires_at < now))
    db.session.add(UserSession(token_hash=_hash(token), user_id=user.id, remember=remember,
                               created_at=now, expires_at=now + lifetime, address=(address or "")[:64]))
    db.session.commit()
    user.session_token = token
    return token


@dataclass(frozen=True, eq=False)
class SignedIn(UserMixin):
    """The signed-in user as a request sees it: plain values kept per process, not a database row
    (bringing a kept row into each request's session was 2–3% of a toggle). A view that changes
    the user reads the row (`users.row`)."""

    id: int
    username: str
    locale: str | None
    session_token: str

    def get_id(self) -> str:
        return self.session_token


_LOOKUP = (select(User.id, User.username, User.locale, UserSession.expires_at, *state.stamp_columns("sessions"))
           .join(UserSession, UserSession.user_id == User.id).where(UserSession.token_hash == bindparam("token_hash")))


def user_for(token: str) -> SignedIn | None:
    """The user a live session token belongs to, or None (unknown, ended or expired).

    Every request asks; each worker keeps the answer under the `sessions` counter, which any
    sign-in, sign-out or change of a user moves, so a session ended on one worker or node opens
    no page on any other from the next request on, and a steady request runs no statement here."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        return None
    found = state.cache("sessions", ("sessions",), max_entries=256).get_or_compute(_hash(token), lambda: _lookup(token))
    if found is None or found[3] <= utcnow():
        return None
    return SignedIn(*found[:3], session_token=token)


def _lookup(token: str) -> state.Stamped:
    row = db.session.execute(_LOOKUP, {"token_hash": _hash(token)}).first()
    return state.Stamped(None if row is None else tuple(row[:4]), row)


def end(token: str | None) -> None:
    if token:
        db.session.execute(delete(UserSession).where(UserSession.token_hash == _hash(token)))
        state.bump("sessions")
        db.session.commit()


def end_all(user: User | SignedIn) -> int:
    """Ends every session of `user` (sign out everywhere, a new password); returns how many."""
    result = db.session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    state.bump("sessions")
    db.session.commit()
    return result.rowcount


def count(user: User | SignedIn) -> int:
    return len(db.session.scalars(select(UserSession.token_hash).where(
        UserSession.user_id == user.id, UserSession.expires_at > utcnow())).all())
