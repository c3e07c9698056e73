"""The panel's tables. Schema changes go through migrations in panel/migrations."""

from collections import namedtuple
from datetime import datetime, timezone

from flask_login import UserMixin
from sqlalchemy import (JSON, Boolean, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text,
                        UniqueConstraint, func)
from sqlalchemy.orm import Mapped, mapped_column, validates
from werkzeug.security import check_password_hash, generate_password_hash

from .extensions import db


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class User(UserMixin, db.Model):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    locale: Mapped[str | None] = mapped_column(String(8), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    # The id Flask-Login keeps in the session and the remember cookie is the server-side session's
    # token, not the user's id: signing out deletes that session, so no copy of either cookie
    # opens a page again (see services/sessions.py).
    session_token = None  # set by services.sessions when a session is started or found

    def get_id(self) -> str | None:
        return self.session_token


class UserSession(db.Model):
    """One signed-in browser. Only a hash of its token is stored: a copy of the database opens nothing."""

    __tablename__ = "user_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    remember: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    address: Mapped[str] = mapped_column(String(64), default="")


class SignInFailure(db.Model):
    """Failed sign-ins counted per account name and per client address, shared by every worker and node."""

    __tablename__ = "sign_in_failures"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)  # "user:<name>" or "addr:<address>"
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class MenuSection(db.Model):
    __tablename__ = "menu_sections"
    key: Mapped[str] = mapped_column(String(48), primary_key=True)
    label: Mapped[str] = mapped_column(String(40))
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Module(db.Model):
    __tablename__ = "modules"
    slug: Mapped[str] = mapped_column(String(48), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    version: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str] = mapped_column(String(120), default="")
    category: Mapped[str] = mapped_column(String(64), default="")
    docs_url: Mapped[str] = mapped_column(String(500), default="")
    manifest: Mapped[dict] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), default="disabled", index=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    source: Mapped[str] = mapped_column(String(32), default="folder")
    previous_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    installed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    # Sidebar entry: what the administrator chose, falling back to the manifest's defaults.
    show_in_sidebar: Mapped[bool] = mapped_column(Boolean, default=True)
    section_key: Mapped[str | None] = mapped_column(
        String(48), ForeignKey("menu_sections.key", ondelete="SET NULL"), nullable=True
    )
    custom_label: Mapped[str | None] = mapped_column(String(40), nullable=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    # /modules pages by name, filtered by state or not: an index walk, not a sort of every row.
    __table_args__ = (Index("ix_modules_name_order", func.lower(name), "slug"),
                      Index("ix_modules_state_name_order", "state", func.lower(name), "slug"))

    @property
    def menu(self) -> dict:
        return manifest_menu(self.manifest)

    @property
    def label(self) -> str:
        return menu_label(self)

    @property
    def icon(self) -> str:
        return menu_icon(self.manifest)


# A module's row as plain values, read and written without the ORM where a request is all about
# speed (switching a module on or off); attribute names are `Module`'s columns.
ModuleRecord = namedtuple("ModuleRecord", [column.key for column in Module.__table__.columns])


# These take a `Module` or a plain row of its columns (long lists read rows, not objects).
def manifest_menu(manifest: dict | None) -> dict:
    return (manifest or {}).get("menu") or {}


def menu_label(module) -> str:
    return module.custom_label or manifest_menu(module.manifest).get("label") or module.name


DEFAULT_ICON = "puzzle"


def menu_icon(manifest: dict | None) -> str:
    return manifest_menu(manifest).get("icon") or DEFAULT_ICON


class ModuleSetting(db.Model):
    __tablename__ = "module_settings"
    slug: Mapped[str] = mapped_column(String(48), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[object] = mapped_column(JSON, nullable=True)


class ModuleMigration(db.Model):
    """Which of a module's own migrations have run against this database."""

    __tablename__ = "module_migrations"
    slug: Mapped[str] = mapped_column(String(48), primary_key=True)
    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    applied_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class PanelState(db.Model):
    """Shared counters every worker reads; `generation` moves on each module state change."""

    __tablename__ = "panel_state"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class AuditEvent(db.Model):
    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(48))
    slug: Mapped[str | None] = mapped_column(String(48), nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    # A switch's entry: the generation it moved the counter to (services.sidebar catches up by them).
    generation: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    # And the state it found the module in (services.module_counts catches up by them).
    from_state: Mapped[str | None] = mapped_column(String(16), nullable=True)


class Job(db.Model):
    """Long work (install, update) whose progress any worker can report."""

    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    slug: Mapped[str | None] = mapped_column(String(48), nullable=True, index=True)
    state: Mapped[str] = mapped_column(String(16), default="queued")  # queued|running|done|failed
    phase: Mapped[str] = mapped_column(String(32), default="queued")
    bytes_done: Mapped[int] = mapped_column(Integer, default=0)
    bytes_total: Mapped[int] = mapped_column(Integer, default=0)
    files_done: Mapped[int] = mapped_column(Integer, default=0)
    files_total: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    actor: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    # The slug while the job is queued or running, NULL once it ended: being unique, it lets the
    # database itself refuse a second active job for a module (NULLs never collide, on SQLite and PostgreSQL).
    active_slug: Mapped[str | None] = mapped_column(String(48), nullable=True)
    # Written every few seconds while the job runs (panel/services/jobs.py): liveness on any node.
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    __table_args__ = (UniqueConstraint("active_slug", name="uq_jobs_active_slug"),)

    @validates("state")
    def _end_activity(self, _key, value):
        if value not in ("queued", "running"):
            self.active_slug = None
        return value


class InstallJournal(db.Model):
    """Each step of an install, written before it is taken, so a crash can be undone."""

    __tablename__ = "install_journal"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(48), index=True)
    job_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    step: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class CatalogCache(db.Model):
    """The last good catalog from the marketplace, with when and how it was fetched; its rows are the
    `catalog_entries` of `generation_id` (see CatalogGeneration)."""

    __tablename__ = "catalog_cache"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(500))
    etag: Mapped[str | None] = mapped_column(String(200), nullable=True)
    data: Mapped[list] = mapped_column(JSON, default=list)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    fetched_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    checked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_error_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    generation_id: Mapped[int | None] = mapped_column(Integer, nullable=True)

    __table_args__ = (UniqueConstraint("url"),)


class CatalogGeneration(db.Model):
    """One full write of a store's catalog. A refresh writes its rows under a new generation and points
    the head (`CatalogCache.generation_id`) at it in the same transaction; a generation no head points
    at is garbage, deleted after the commit (marketplace/catalog_rows.py, `drop_unshown`)."""

    __tablename__ = "catalog_generations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    catalog_id: Mapped[int] = mapped_column(ForeignKey("catalog_cache.id", ondelete="CASCADE"))

    __table_args__ = {"sqlite_autoincrement": True}


class LicenseState(db.Model):
    """This installation's license, one row (id 1) shared by every worker and node: the installation
    id made on first run, the key, the store-signed token (verified offline on each check, never
    trusted as stored), when the store last answered, and the last refusal or failure (a reason code)."""

    __tablename__ = "license_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    installation_id: Mapped[str] = mapped_column(String(64))
    license_key: Mapped[str | None] = mapped_column(String(40), nullable=True)
    token: Mapped[str | None] = mapped_column(Text, nullable=True)
    checked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    attempted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(64), nullable=True)


class UpdatePolicy(db.Model):
    """How a module is updated: held at its version, a version skipped, or updated automatically."""

    __tablename__ = "update_policies"
    slug: Mapped[str] = mapped_column(String(48), ForeignKey("modules.slug", ondelete="CASCADE"), primary_key=True)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    skipped_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    auto_update: Mapped[bool] = mapped_column(Boolean, default=False)


class CatalogEntry(db.Model):
    """One module of a stored catalog generation (`generation_id`; see CatalogGeneration).

    Pages filter, search and page these rows in the database, so no worker holds a catalog in
    memory; `search` is the lower-cased text a search matches (full-text indexed, see
    marketplace/catalog_rows.py); `data` is the whole validated entry, read for a page's rows only.
    """

    __tablename__ = "catalog_entries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation_id: Mapped[int] = mapped_column(ForeignKey("catalog_generations.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(48))
    sort_name: Mapped[str] = mapped_column(String(120))
    category: Mapped[str] = mapped_column(String(64), default="")
    paid: Mapped[bool] = mapped_column(Boolean, default=False)
    compatible: Mapped[str | None] = mapped_column(String(64), nullable=True)
    newest: Mapped[str] = mapped_column(String(64))
    search: Mapped[str] = mapped_column(Text)
    data: Mapped[dict] = mapped_column(JSON)

    __table_args__ = (UniqueConstraint("generation_id", "slug"),
                      Index("ix_catalog_entries_order", "generation_id", "sort_name", "slug"),
                      Index("ix_catalog_entries_category", "generation_id", "category", "sort_name"),
                      {"sqlite_autoincrement": True})


class ModulePackage(db.Model):
    """The bytes of an installed module version, so every node can put the same code on its own disk.

    One row per (slug, version) still installed or kept for a rollback; an uninstall deletes them.
    """

    __tablename__ = "module_packages"
    slug: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    stored_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
