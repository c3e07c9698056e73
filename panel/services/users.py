"""The administrator accounts."""

import re

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..errors import Conflict, FormError
from ..extensions import db
from ..models import User

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


def authenticate(username: str, password: str) -> User | None:
    user = db.session.scalar(select(User).where(User.username == (username or "").strip()))
    if user is None or not user.check_password(password or ""):
        return None
    return user


def set_locale(user: User, locale: str) -> None:
    user.locale = locale
    db.session.commit()
