"""The panel's own tables: apply pending migrations once, whichever node or worker starts first.

Several gunicorn workers, or several nodes on one PostgreSQL, may start at the same moment: the
first takes the migration lock (a PostgreSQL advisory lock; on SQLite, which lives on one machine,
a file lock beside the database file), applies what is pending, and the others, waiting on the same
lock, then find nothing left to do.
"""

import contextlib
import fcntl
import logging
import re
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db, lazy_module

# Only when a migration is pending: the check at every start reads the scripts' text instead.
flask_migrate = lazy_module("flask_migrate")
alembic_migration = lazy_module("alembic.runtime.migration")
alembic_script = lazy_module("alembic.script")

MIGRATION_LOCK_ID = 0x70616E656C  # "panel": any constant the hub's own lock id is not
UPGRADE_HINT = _l("The database has no tables yet: run `flask --app app db upgrade` (or start the panel once).")


def _migrations_dir() -> str:
    return current_app.extensions["migrate"].directory


_REVISION = re.compile(r"^revision\b[^=]*=\s*['\"]([^'\"]+)['\"]", re.M)
_DOWN_REVISION = re.compile(r"^down_revision\b[^=]*=(.*)$", re.M)


def script_heads() -> set[str] | None:
    """The newest migrations, read from the scripts' `revision`/`down_revision` lines without
    loading alembic's script machinery (a start-up cost every worker paid); None when a script
    does not say them plainly, then alembic decides."""
    revisions, parents = set(), set()
    for script in Path(_migrations_dir(), "versions").glob("*.py"):
        source = script.read_text(encoding="utf-8")
        revision, down = _REVISION.search(source), _DOWN_REVISION.search(source)
        if revision is None or down is None:
            return None
        revisions.add(revision.group(1))
        parents.update(re.findall(r"['\"]([^'\"]+)['\"]", down.group(1)))
    return (revisions - parents) or None


def _stored_revisions() -> set[str]:
    try:
        with db.engine.connect() as connection:
            return set(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
    except SQLAlchemyError:  # no table yet: nothing applied
        return set()


def pending() -> bool:
    """True when the database is not at the newest migration (no tables at all counts)."""
    heads = script_heads()
    if heads is not None and _stored_revisions() == heads:
        return False  # the check at every start of every worker: one SELECT, no alembic
    heads = _heads()
    quiet = logging.getLogger("alembic.runtime.migration")
    level, quiet.level = quiet.level, logging.WARNING  # a check at every start is not news
    try:
        with db.engine.connect() as connection:
            current = set(alembic_migration.MigrationContext.configure(connection).get_current_heads())
    finally:
        quiet.setLevel(level)
    return current != heads


def _heads() -> set[str]:
    config = current_app.extensions["migrate"].migrate.get_config(_migrations_dir())
    return set(alembic_script.ScriptDirectory.from_config(config).get_heads())


@contextlib.contextmanager
def migration_lock():
    """Held by one process at a time across every node sharing the database."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
            connection.commit()
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})
                connection.commit()
        return
    # Beside the database file: every process that opens it (whatever its instance folder) meets here.
    database = db.engine.url.database
    if database and database != ":memory:":
        lock_file = Path(database).with_name(Path(database).name + ".migrate.lock")
    else:
        lock_file = Path(current_app.instance_path) / "migrate.lock"
    with open(lock_file, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def upgrade_if_pending() -> bool:
    """Apply pending migrations under the lock; True if this process applied any."""
    if not pending():
        return False
    with migration_lock():
        if not pending():  # another worker or node did it while we waited
            return False
        flask_migrate.upgrade(directory=_migrations_dir())
        return True


def is_missing_tables(exc: BaseException) -> bool:
    """Whether a database error means the migrations were never applied."""
    message = str(getattr(exc, "orig", exc)).lower()
    return "no such table" in message or ("relation" in message and "does not exist" in message)
