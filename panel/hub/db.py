"""The hub's own database: licenses, activations, trials, coupons. Never the panel's tables.

A plain SQLAlchemy engine on `HUB_DATABASE_URL`, by default a SQLite file `<instance>/hub.db`.
The schema comes from the hub's own Alembic scripts (panel/hub/migrations, version table
`hub_alembic_version`), applied when the hub first needs the database, under a lock: a file lock
for the workers of one node, and on PostgreSQL an advisory lock for several nodes.
"""

import fcntl
import threading
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import (JSON, Column, DateTime, ForeignKey, Integer, MetaData, String, Table, UniqueConstraint,
                        create_engine, event, text)
from sqlalchemy.engine import Engine

from ..extensions import lazy_module

# Only when the license database is first opened: a worker serving the catalog and packages never is.
alembic_command = lazy_module("alembic.command")
alembic_config_module = lazy_module("alembic.config")

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "hub_alembic_version"
PG_LOCK_ID = 0x6875625F6C6963  # "hub_lic": any constant the panel does not use

metadata = MetaData()

licenses = Table(
    "licenses", metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(40), nullable=False, unique=True),
    Column("owner", String(200), nullable=False),
    Column("max_installations", Integer, nullable=False),
    Column("created_at", DateTime, nullable=False),
)

# A module the license owns (operator or coupon); `until`/`updates_until` NULL mean for ever.
grants = Table(
    "license_modules", metadata,
    Column("id", Integer, primary_key=True),
    Column("license_id", ForeignKey("licenses.id", ondelete="CASCADE"), nullable=False),
    Column("slug", String(48), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("until", DateTime, nullable=True),
    Column("updates_until", DateTime, nullable=True),
    UniqueConstraint("license_id", "slug", name="uq_license_modules_license_slug"),
)

activations = Table(
    "activations", metadata,
    Column("id", Integer, primary_key=True),
    Column("license_id", ForeignKey("licenses.id", ondelete="CASCADE"), nullable=False),
    Column("installation", String(64), nullable=False),
    Column("activated_at", DateTime, nullable=False),
    Column("last_seen_at", DateTime, nullable=False),
    UniqueConstraint("license_id", "installation", name="uq_activations_license_installation"),
)

# Once per license and module, whatever the installation: a reinstall never starts another.
trials = Table(
    "trials", metadata,
    Column("id", Integer, primary_key=True),
    Column("license_id", ForeignKey("licenses.id", ondelete="CASCADE"), nullable=False),
    Column("slug", String(48), nullable=False),
    Column("started_at", DateTime, nullable=False),
    Column("ends_at", DateTime, nullable=False),
    UniqueConstraint("license_id", "slug", name="uq_trials_license_slug"),
)

coupons = Table(
    "coupons", metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(40), nullable=False, unique=True),
    Column("modules", JSON, nullable=False),
    Column("days", Integer, nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("redeemed_at", DateTime, nullable=True),
    Column("redeemed_by", ForeignKey("licenses.id", ondelete="SET NULL"), nullable=True),
    Column("redeemed_installation", String(64), nullable=True),
)


def database_url(config: dict, instance: Path) -> str:
    return config.get("HUB_DATABASE_URL") or f"sqlite:///{Path(instance) / 'hub.db'}"


def make_engine(url: str) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": 15})

    # Every transaction takes SQLite's write lock when it begins (BEGIN IMMEDIATE), so concurrent
    # requests wait their turn (busy timeout) instead of failing with "database is locked" when a
    # transaction that has read goes on to write after another one committed.
    @event.listens_for(engine, "connect")
    def _driver_leaves_transactions_to_us(dbapi_connection, connection_record):
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def alembic_config(engine: Engine) -> "alembic_config_module.Config":
    config = alembic_config_module.Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


@contextmanager
def _migration_lock(engine: Engine, lock_file: Path):
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            if engine.dialect.name == "postgresql":
                with engine.connect() as connection:
                    connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": PG_LOCK_ID})
                    try:
                        yield
                    finally:
                        connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": PG_LOCK_ID})
                        connection.commit()
            else:
                yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class HubDatabase:
    """The engine, migrated (and seeded by `on_ready`) once per process on first use."""

    def __init__(self, url: str, lock_file: Path, on_ready=None):
        self.url = url
        self.lock_file = Path(lock_file)
        self.on_ready = on_ready
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    engine = make_engine(self.url)
                    with _migration_lock(engine, self.lock_file):
                        alembic_command.upgrade(alembic_config(engine), "head")
                        if self.on_ready:
                            self.on_ready(engine)
                    self._engine = engine
        return self._engine

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
