"""The administrator accounts."""

import functools
import re

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select
from werkzeug.security import generate_password_hash

from ..errors import Conflict, FormError
from ..extensions import db
from ..models import User, UserSession

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
MIN_PASSWORD = 8


def exists() -> bool:
    return db.session.execute(select(func.count()).select_from(User)).scalar() > 0


def create(username: str, password: str, confirm: str | None = None) -> User:
    username = (username or "").strip()
    errors = {}
    if not USERNAME_RE.match(username):
        errors["username"] = _l("A user name is 2 to 64 letters, digits or . _ @ - characters.")
    if len(password or "") < MIN_PASSWORD:
        errors["password"] = _l("The password needs at least %(n)s characters.", n=MIN_PASSWORD)
    elif confirm is not None and confirm != password:
        errors["confirm"] = _l("The two passwords differ.")
    if errors:
        raise FormError(errors)
    if db.session.scalar(select(User).where(User.username == username)):
        raise Conflict(_l("An administrator named “%(name)s” already exists.", name=username))
    user = User(username=username)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user


@functools.cache
def _no_one() -> User:
    """Checked against when the name is unknown, so a wrong name takes as long as a wrong password.
    Made on first use: hashing it costs a start-up a tenth of a second or more (scrypt)."""
    return User(password_hash=generate_password_hash("no one signs in with this"))


def authenticate(username: str, password: str) -> User | None:
    user = db.session.scalar(select(User).where(User.username == (username or "").strip()))
    if not (user or _no_one()).check_password(password or "") or user is None:
        return None
    return user


def change_password(user: User, current: str, new: str, confirm: str) -> None:
    """A new password ends every session of the user, this one included (the caller starts a new one)."""
    errors = {}
    if not user.check_password(current or ""):
        errors["current"] = _l("The current password is not right.")
    if len(new or "") < MIN_PASSWORD:
        errors["password"] = _l("The password needs at least %(n)s characters.", n=MIN_PASSWORD)
    elif new != confirm:
        errors["confirm"] = _l("The two passwords differ.")
    if errors:
        raise FormError(errors)
    user.set_password(new)
    db.session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    db.session.commit()


def row(user_id: int) -> User | None:
    """The user's row, to change it (a request's signed-in user is a copy of plain values)."""
    return db.session.get(User, user_id)


def set_locale(user_id: int, locale: str) -> None:
    user = row(user_id)
    if user is not None:
        user.locale = locale
        db.session.commit()
