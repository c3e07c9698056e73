"""The one install pipeline, and uninstall and rollback, each journaled so a crash can be undone.

Every operation follows the same shape:

1. take the module's lock (a `flock` on `instance/locks/<slug>.lock`, so it holds across
   worker processes and is released by the kernel if the process dies);
2. write a journal row listing the renames it is about to make, and commit it;
3. make the renames (staging → modules, modules → backups…): each is atomic on one file system;
4. change the database (module row, the module's migrations and hooks, audit, generation) and
   mark the journal row done — all in ONE transaction;
5. remove what is no longer needed (old backup, staging).

A failure before step 4 commits undoes the renames in reverse order and rolls the transaction
back, so code, rows and enabled state are exactly what they were. A process killed at any point
leaves a journal row that `recover_interrupted()` undoes (not done) or finishes (done).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import shutil
import signal
import time
import uuid
from pathlib import Path
from typing import Callable, NoReturn

from flask import current_app
from flask_babel import lazy_gettext as _l
from packaging.version import Version
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select, text

from .. import manifest as manifest_mod
from ..errors import Conflict, ManifestError, PackageError, PanelError
from ..extensions import db
from ..models import InstallJournal, Job, Module, ModuleMigration, ModuleSetting, utcnow
from ..runtime.registry import LoadError, bump_generation, describe, forget_templates, run_module_migrations
from ..services import audit
from ..services import modules as modules_service
from ..version import CORE_VERSION
from . import archive

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]
FAULT_ENV = "PANEL_INSTALLER_FAULT"  # test-only: "kill:<step>" or "pause:<step>"
FAULT_MARKER_ENV = "PANEL_INSTALLER_FAULT_MARKER"
FREE_SPACE_MARGIN = 16 * 1024 * 1024


# --- paths and test hooks ---------------------------------------------------------------------------

def paths() -> dict[str, Path]:
    cfg = current_app.config
    return {"modules": Path(cfg["MODULES_PATH"]), "staging": Path(cfg["STAGING_PATH"]),
            "backups": Path(cfg["BACKUPS_PATH"]), "locks": Path(current_app.instance_path) / "locks"}


def checkpoint(step: str) -> None:
    """Test-only fault injection: kill or pause the process at a named step."""
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    action, _, name = spec.partition(":")
    if name != step:
        return
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "pause":
        marker = os.environ.get(FAULT_MARKER_ENV)
        if marker:
            Path(marker).write_text(step)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            time.sleep(0.05)


# --- locks ------------------------------------------------------------------------------------------

def _lock_file(name: str) -> Path:
    folder = paths()["locks"]
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.lock"


@contextlib.contextmanager
def try_lock(name: str):
    """Yield True while holding the named lock, or False at once if another process holds it."""
    fd = os.open(_lock_file(name), os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextlib.contextmanager
def module_lock(slug: str):
    with try_lock(slug) as held:
        if not held:
            raise Conflict(_l("Try again in a moment: an install of %(slug)s is already in progress.", slug=slug))
        yield


def is_locked(slug: str) -> bool:
    with try_lock(slug) as held:
        return not held


# --- checks shared by the report and the pipeline -----------------------------------------------------

def core_ok(manifest: manifest_mod.Manifest) -> bool:
    return not str(manifest.requires_core) or manifest.requires_core.contains(CORE_VERSION, prereleases=True)


def missing_dependencies(manifest: manifest_mod.Manifest) -> list[str]:
    """Required modules that are not installed, or installed in a version that does not fit."""
    missing = []
    for other, spec in manifest.requires.items():
        module = db.session.get(Module, other)
        if module is None or (str(spec) and not spec.contains(module.version, prereleases=True)):
            missing.append(f"{other}{spec}")
    return missing


def broken_dependants(manifest: manifest_mod.Manifest) -> list[str]:
    """Enabled modules whose `requires` the new version of this module would no longer satisfy."""
    broken = []
    for other in modules_service.enabled_dependants(manifest.slug):
        spec = other.requires.get(manifest.slug) or ""
        try:
            fits = not spec or manifest_mod.SpecifierSet(spec).contains(manifest.version, prereleases=True)
        except Exception:  # noqa: BLE001 — a stored manifest we can no longer read does not block
            fits = True
        if not fits:
            broken.append(f"{other.name} ({manifest.slug}{spec})")
    return broken


def requirement_problems(manifest: manifest_mod.Manifest) -> list:
    problems = []
    if not core_ok(manifest):
        problems.append(_l("%(name)s needs panel version %(spec)s; this panel is %(core)s.", name=manifest.name,
                           spec=str(manifest.requires_core), core=CORE_VERSION))
    missing = missing_dependencies(manifest)
    if missing:
        problems.append(_l("%(name)s needs these modules installed first: %(missing)s.", name=manifest.name,
                           missing=", ".join(missing)))
    broken = broken_dependants(manifest)
    if broken:
        problems.append(_l("Version %(version)s would break modules that require another version: %(others)s.",
                           version=manifest.version_str, others=", ".join(broken)))
    return problems


def _same_filesystem(*folders: Path) -> None:
    devices = {os.stat(folder).st_dev for folder in folders}
    if len(devices) != 1:
        raise PackageError(_l("The staging, backups and modules folders must be on the same file system."))


def _check_free_space(folder: Path, needed: int) -> None:
    free = shutil.disk_usage(folder).free
    if free < needed + FREE_SPACE_MARGIN:
        raise PackageError(_l("There is not enough free disk space to unpack the package "
                              "(%(needed)s MB needed, %(free)s MB free).",
                              needed=(needed + FREE_SPACE_MARGIN) // (1024 * 1024), free=free // (1024 * 1024)))


# --- journaled operations -------------------------------------------------------------------------------

def _exists(path: str) -> bool:
    return os.path.lexists(path)


def undo_renames(renames: list) -> None:
    """Reverse the renames that happened, newest first. Safe to repeat (a crash may interrupt it)."""
    for src, dst in reversed(renames):
        if _exists(dst) and not _exists(src):
            os.rename(dst, src)


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif _exists(path):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


class Operation:
    """One journaled install, uninstall or rollback of one module."""

    def __init__(self, kind: str, slug: str, actor: str, job_id: int | None = None, **data):
        self.kind, self.slug, self.actor = kind, slug, actor
        self.op = uuid.uuid4().hex[:12]
        self.renames: list[list[str]] = []
        self.cleanup: list[str] = []
        self.journal = InstallJournal(slug=slug, job_id=job_id, step="begin", done=False,
                                      data={"kind": kind, "op": self.op, "actor": actor, "renames": [],
                                            "cleanup": [], **data})
        db.session.add(self.journal)
        db.session.commit()

    def _save(self, step: str, **data) -> None:
        self.journal.step = step
        self.journal.data = {**self.journal.data, "renames": self.renames, "cleanup": self.cleanup, **data}

    def step(self, step: str, **data) -> None:
        self._save(step, **data)
        db.session.commit()

    def rename_all(self, renames: list[tuple[Path, Path]], steps: list[str]) -> None:
        self.renames = [[str(src), str(dst)] for src, dst in renames]
        self.step("swap")
        checkpoint("journaled")
        for (src, dst), name in zip(self.renames, steps):
            os.rename(src, dst)
            checkpoint(name)

    def mark_done(self, **data) -> None:
        """Part of the caller's final transaction: the outcome is decided when it commits."""
        self.journal.done = True
        self._save("committed", **data)

    def finish(self) -> None:
        for path in self.cleanup:
            _remove(path)
        self.step("finished")

    def fail(self, reason: str, on_failure: Callable[[], None] | None = None) -> None:
        db.session.rollback()
        undo_renames(self.renames)
        for path in self.cleanup:
            if not any(path == src for src, _ in self.renames):
                _remove(path)
        journal = db.session.get(InstallJournal, self.journal.id)
        journal.done = True
        journal.step = "failed"
        journal.data = {**journal.data, "renames": self.renames, "cleanup": self.cleanup, "reason": reason[:1000]}
        if on_failure:
            on_failure()
        db.session.commit()


class _TransactionalDatabase:
    """`api.db` while a module's migrations and hooks run inside the install's transaction:
    everything is the module's own `api.db`, except that `commit()` only flushes, so the install
    stays all-or-nothing."""

    def __init__(self, inner):
        self._inner = inner

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def commit(self) -> None:
        db.session.flush()


@contextlib.contextmanager
def _in_transaction(api):
    saved = api.db
    api.db = _TransactionalDatabase(saved)
    try:
        yield
    finally:
        api.db = saved


def _registry():
    return current_app.extensions["module_registry"]


def _noop(phase: str, done: int, total: int) -> None:
    pass


def _reraise(exc: BaseException, reason: str) -> NoReturn:
    """After an undo: panel errors and interruptions go on as they are, anything else as one sentence."""
    if isinstance(exc, PanelError) or not isinstance(exc, Exception):
        raise exc
    raise PackageError(reason) from exc


def _reason(exc: BaseException, generic: Callable[[str], object]) -> str:
    if isinstance(exc, PanelError):
        return str(exc.message)
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return str(_l("There is not enough free disk space to unpack the package."))
    return str(generic(describe(exc)))


# --- install ------------------------------------------------------------------------------------------

def install_package(zip_path: Path, actor: str, *, source: str = "upload", allow_downgrade: bool = False,
                    expected_slug: str | None = None, progress: Progress | None = None,
                    job_id: int | None = None) -> Module:
    """Install or update a module from a `.zip`: the one pipeline every source goes through."""
    progress = progress or _noop
    zip_path = Path(zip_path)
    limits = archive.Limits.from_config(current_app.config)
    where = paths()
    progress("validate", 0, 1)
    info = archive.inspect(zip_path, limits)
    manifest = info.manifest
    slug = manifest.slug
    if expected_slug and slug != expected_slug:
        raise PackageError(_l("The package holds the module “%(slug)s”, not “%(expected)s”.", slug=slug,
                              expected=expected_slug))
    progress("validate", 1, 1)
    checkpoint("validated")
    with module_lock(slug):
        existing = db.session.get(Module, slug, populate_existing=True)
        live, backup = where["modules"] / slug, where["backups"] / slug
        if existing is None and _exists(str(live)):
            raise Conflict(_l("A folder named “%(slug)s” is already in the modules folder but is not a registered "
                              "module; remove it or reload the modules page first.", slug=slug))
        if existing is not None and _valid(existing.version) and Version(existing.version) > manifest.version:
            if not allow_downgrade:
                raise Conflict(_l("%(name)s %(new)s is older than the installed %(old)s; confirm the downgrade to "
                                  "install it.", name=manifest.name, new=manifest.version_str, old=existing.version))
        problems = requirement_problems(manifest)
        if problems:
            raise PackageError(problems[0])
        _same_filesystem(where["staging"], where["modules"], where["backups"])
        _check_free_space(where["staging"], info.unpacked_bytes)

        old_version = existing.version if existing else None
        old_state = existing.state if existing else None
        operation = Operation("install", slug, actor, job_id=job_id, old_version=old_version,
                              new_version=manifest.version_str, old_state=old_state, source=source)
        op_dir = where["staging"] / f"{slug}.{operation.op}"
        trash = where["backups"] / f".trash-{slug}.{operation.op}"
        operation.cleanup = [str(op_dir), str(trash)]
        loaded = None
        swapped = False
        try:
            operation.step("extract")
            op_dir.mkdir(mode=0o700)
            archive.extract(zip_path, op_dir / "pkg", limits,
                            progress=lambda done, total: progress("extract", done, total))
            checkpoint("extracted")
            progress("swap", 0, 1)
            renames, steps = [], []
            if _exists(str(backup)):
                renames.append((backup, trash))
                steps.append("moved_old_backup")
            if existing is not None and _exists(str(live)):
                renames.append((live, backup))
                steps.append("moved_live")
            renames.append((op_dir / "pkg", live))
            steps.append("swapped")
            operation.rename_all(renames, steps)
            swapped = True
            progress("swap", 1, 1)

            progress("migrate", 0, 1)
            module, loaded = _activate(existing, manifest, live, source, old_version)
            checkpoint("migrated")
            progress("migrate", 1, 1)
            progress("record", 0, 1)
            if existing is None:
                audit.record(actor, "installed", slug, f"{manifest.version_str} ({source})")
            else:
                detail = f"{old_version} → {manifest.version_str} ({source})"
                audit.record(actor, "updated", slug, detail)
            bump_generation()
            operation.mark_done()
            db.session.commit()
        except BaseException as exc:
            reason = _reason(exc, lambda error: _l("The install failed and was undone: %(error)s", error=error))
            log.warning("install of %s failed: %s", slug, reason)
            registry = _registry()

            def record_failure():
                audit.record(actor, "install_failed", slug, f"{manifest.version_str}: {reason}")
                if existing is not None and swapped:
                    module = db.session.get(Module, slug)
                    if module is not None:
                        module.error = str(_l("The update to %(version)s failed and was undone: %(reason)s",
                                              version=manifest.version_str, reason=reason))[:1000]
                        bump_generation()

            try:
                if swapped:
                    with registry.lock:
                        registry.forget(slug)
                operation.fail(reason, record_failure)
                if swapped and old_state == "enabled":
                    _reload(slug)
            except Exception:  # noqa: BLE001 — the journal lets the next start finish the undo
                log.exception("undoing the install of %s failed; the next start will finish it", slug)
            _reraise(exc, reason)
        checkpoint("committed")
        _adopt_after_commit(slug, loaded)
        operation.finish()
        checkpoint("finished")
        progress("done", 1, 1)
        return db.session.get(Module, slug)


def _valid(version: str) -> bool:
    try:
        Version(version)
        return True
    except Exception:  # noqa: BLE001
        return False


def _activate(existing: Module | None, manifest, live: Path, source: str, old_version: str | None):
    """Update the row, load the new code, run its migrations and install/upgrade hook (not committed)."""
    fresh = existing is None
    was_enabled = existing is not None and existing.state == "enabled"
    if fresh:
        module = Module(slug=manifest.slug, name=manifest.name, version=manifest.version_str, state="disabled",
                        source=source)
        db.session.add(module)
    else:
        module = existing
        if module.state == "failed":
            module.state = "disabled"
    modules_service.apply_manifest(module, manifest)
    module.source = source
    module.error = None
    module.previous_version = None if fresh else old_version
    module.installed_at = utcnow()
    bump_generation()  # opens the write transaction first, so the migrations' DDL is part of it
    db.session.flush()
    registry = _registry()
    with registry.lock:
        try:
            loaded = registry.load(module)
        except LoadError as exc:
            if fresh:  # a new module whose code does not load is kept, disabled with the error on its card
                module.state, module.error = "failed", str(exc)
                return module, None
            raise PackageError(_l("The code of version %(version)s failed to load: %(error)s",
                                  version=manifest.version_str, error=str(exc))) from exc
        with _in_transaction(loaded.api):
            try:
                run_module_migrations(manifest.slug, live, loaded.api)
            except LoadError as exc:
                raise PackageError(_l("A migration of %(name)s failed: %(error)s", name=manifest.name,
                                      error=str(exc))) from exc
            try:
                if fresh:
                    loaded.api.run_hook("install")
                else:
                    loaded.api.run_hook("upgrade", old_version)
            except Exception as exc:  # noqa: BLE001 — module code is untrusted
                raise PackageError(_l("The %(hook)s hook of %(name)s failed: %(error)s",
                                      hook="install" if fresh else "upgrade", name=manifest.name,
                                      error=describe(exc))) from exc
        if was_enabled:
            missing = modules_service.missing_requirements(manifest)
            if missing:
                raise PackageError(_l("%(name)s needs %(missing)s enabled first.", name=manifest.name,
                                      missing=", ".join(missing)))
        db.session.flush()
    return module, loaded


def _adopt_after_commit(slug: str, loaded) -> None:
    registry = _registry()
    module = db.session.get(Module, slug)
    with registry.lock:
        if loaded is not None and module is not None and module.state == "enabled":
            forget_templates(slug)
            registry.adopt(loaded)
        else:
            registry.forget(slug)


def _reload(slug: str) -> None:
    """After an undo, serve the restored code in this worker again."""
    registry = _registry()
    module = db.session.get(Module, slug)
    if module is None or module.state != "enabled":
        return
    with registry.lock:
        try:
            registry.adopt(registry.load(module))
        except LoadError as exc:
            log.error("restored module %s failed to reload: %s", slug, exc)


def install_folder(source: Path, actor: str, *, source_name: str = "folder") -> Module:
    """Zip a module folder into a temporary package and send it through the pipeline."""
    import zipfile

    source = Path(source)
    if not source.is_dir():
        raise PackageError(_l("The module folder does not exist."))
    tmp = paths()["staging"] / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    package = tmp / f"folder-{uuid.uuid4().hex[:12]}.zip"
    try:
        with zipfile.ZipFile(package, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            for folder, dirnames, filenames in os.walk(source):
                dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
                for name in dirnames:
                    if os.path.islink(os.path.join(folder, name)):
                        raise PackageError(_l("The module folder contains a symbolic link (%(name)s).", name=name))
                for name in sorted(filenames):
                    full = os.path.join(folder, name)
                    if name.endswith(".pyc"):
                        continue
                    if os.path.islink(full) or not os.path.isfile(full):
                        raise PackageError(_l("The module folder contains a symbolic link (%(name)s).", name=name))
                    zf.write(full, os.path.relpath(full, source).replace(os.sep, "/"))
        return install_package(package, actor, source=source_name)
    finally:
        with contextlib.suppress(FileNotFoundError):
            package.unlink()


# --- uninstall ---------------------------------------------------------------------------------------

def _get(slug: str) -> Module:
    return modules_service.get(slug)


def module_tables(slug: str) -> list[str]:
    """Tables named `mod_<slug>_…`, leaving out those of another module whose slug extends this one."""
    others = [s for s in db.session.scalars(select(Module.slug)) if s != slug and s.startswith(slug + "_")]
    names = sa_inspect(db.session.connection()).get_table_names()
    prefix = f"mod_{slug}_"
    return [n for n in names if n.startswith(prefix) and not any(n.startswith(f"mod_{o}_") for o in others)]


def uninstall(slug: str, actor: str, delete_data: bool = False) -> None:
    """Disable, run the uninstall hook, remove the code (and backups); keep the data unless asked."""
    module = _get(slug)
    where = paths()
    with module_lock(slug):
        module = db.session.get(Module, slug, populate_existing=True) or _get(slug)
        dependants = [m for m in db.session.scalars(select(Module).where(Module.slug != slug))
                      if slug in ((m.manifest or {}).get("requires") or {}) and m.state == "enabled"]
        if dependants:
            raise Conflict(_l("%(name)s is needed by %(others)s; disable or uninstall those first.",
                              name=module.name, others=", ".join(m.name for m in dependants)))
        name, version, was_enabled = module.name, module.version, module.state == "enabled"
        operation = Operation("uninstall", slug, actor, old_version=version, old_state=module.state,
                              delete_data=delete_data)
        live, backup = where["modules"] / slug, where["backups"] / slug
        trash_live = where["backups"] / f".trash-{slug}.{operation.op}"
        trash_backup = where["backups"] / f".trash-{slug}.{operation.op}.previous"
        operation.cleanup = [str(trash_live), str(trash_backup)]
        registry = _registry()
        notes = []
        try:
            loaded = registry.loaded.get(slug) if was_enabled else None
            if loaded is None and (live / "__init__.py").is_file():
                try:
                    with registry.lock:
                        loaded = registry.load(module)
                except LoadError as exc:
                    notes.append(f"code did not load: {exc}")
            if loaded is not None:
                with _in_transaction(loaded.api):
                    for hook in (("disable", "uninstall") if was_enabled else ("uninstall",)):
                        try:
                            loaded.api.run_hook(hook)
                        except Exception as exc:  # noqa: BLE001 — a broken hook must not block removal
                            notes.append(f"{hook} hook failed: {describe(exc)}")
            renames, steps = [], []
            if _exists(str(live)):
                renames.append((live, trash_live))
                steps.append("moved_live")
            if _exists(str(backup)):
                renames.append((backup, trash_backup))
                steps.append("moved_backup")
            operation.rename_all(renames, steps)
            module = db.session.get(Module, slug)
            db.session.delete(module)
            dropped = []
            if delete_data:
                db.session.query(ModuleSetting).filter_by(slug=slug).delete()
                db.session.query(ModuleMigration).filter_by(slug=slug).delete()
                for table in module_tables(slug):
                    db.session.execute(text(f'DROP TABLE IF EXISTS "{table}"'))
                    dropped.append(table)
            detail = version + (" (data deleted)" if delete_data else " (data kept)")
            if notes:
                detail += "; " + "; ".join(notes)
            audit.record(actor, "uninstalled", slug, detail)
            bump_generation()
            operation.mark_done(dropped=dropped)
            db.session.commit()
        except BaseException as exc:
            reason = _reason(exc, lambda error: _l("%(name)s could not be uninstalled: %(error)s", name=name,
                                                   error=error))
            try:
                operation.fail(reason, lambda: audit.record(actor, "uninstall_failed", slug, reason))
                if was_enabled:
                    _reload(slug)
            except Exception:  # noqa: BLE001
                log.exception("undoing the uninstall of %s failed; the next start will finish it", slug)
            _reraise(exc, reason)
        checkpoint("committed")
        with registry.lock:
            registry.forget(slug)
        operation.finish()


# --- rollback ----------------------------------------------------------------------------------------

def rollback(slug: str, actor: str) -> Module:
    """Swap the live version with the one kept in backups (so a rollback can itself be undone)."""
    where = paths()
    _get(slug)
    with module_lock(slug):
        module = db.session.get(Module, slug, populate_existing=True) or _get(slug)
        live, backup = where["modules"] / slug, where["backups"] / slug
        if not (backup / "module.json").is_file():
            raise Conflict(_l("There is no earlier version of %(name)s to roll back to.", name=module.name))
        try:
            manifest = modules_service.read_manifest(backup)
        except ManifestError as exc:
            raise PackageError(exc.message) from None
        if manifest.slug != slug:
            raise PackageError(_l("The kept version is not a version of %(name)s.", name=module.name))
        if not core_ok(manifest):
            raise PackageError(requirement_problems(manifest)[0])
        current, old_state = module.version, module.state
        operation = Operation("rollback", slug, actor, old_version=current, new_version=manifest.version_str,
                              old_state=old_state)
        swap = where["backups"] / f".swap-{slug}.{operation.op}"
        registry = _registry()
        loaded = None
        try:
            operation.rename_all([(live, swap), (backup, live), (swap, backup)],
                                 ["moved_live", "swapped", "moved_backup"])
            modules_service.apply_manifest(module, manifest)
            module.previous_version = current
            module.installed_at = utcnow()
            module.error = None
            bump_generation()
            db.session.flush()
            if old_state == "enabled":
                with registry.lock:
                    try:
                        loaded = registry.load(module)
                    except LoadError as exc:
                        raise PackageError(_l("The code of version %(version)s failed to load: %(error)s",
                                              version=manifest.version_str, error=str(exc))) from exc
                    with _in_transaction(loaded.api):
                        try:
                            run_module_migrations(slug, live, loaded.api)
                        except LoadError as exc:
                            raise PackageError(_l("A migration of %(name)s failed: %(error)s", name=module.name,
                                                  error=str(exc))) from exc
            audit.record(actor, "rolled_back", slug, f"{current} → {manifest.version_str}")
            operation.mark_done()
            db.session.commit()
        except BaseException as exc:
            reason = _reason(exc, lambda error: _l("The rollback failed and was undone: %(error)s", error=error))
            try:
                with registry.lock:
                    registry.forget(slug)
                operation.fail(reason, lambda: audit.record(actor, "rollback_failed", slug, reason))
                _reload(slug)
            except Exception:  # noqa: BLE001
                log.exception("undoing the rollback of %s failed; the next start will finish it", slug)
            _reraise(exc, reason)
        checkpoint("committed")
        _adopt_after_commit(slug, loaded)
        operation.finish()
        return db.session.get(Module, slug)


# --- recovery ------------------------------------------------------------------------------------------

def _inside(path: str, roots: list[Path]) -> bool:
    real = os.path.realpath(path)
    return any(os.path.commonpath([real, os.path.realpath(root)]) == os.path.realpath(root) for root in roots)


def recover_interrupted() -> dict:
    """At start: undo operations a crash interrupted, finish committed ones, clear stale staging.

    Safe to run from several worker processes at once (a lock serialises it; a module whose lock
    is held by a live install is left alone) and on a database that is not migrated yet (skipped).
    """
    result = {"undone": [], "finished": [], "removed": []}
    try:
        if not sa_inspect(db.engine).has_table("install_journal"):
            return result
    except Exception:  # noqa: BLE001
        return result
    deadline = time.monotonic() + 30
    while True:
        with try_lock("_recovery") as held:
            if held:
                return _recover(result)
        if time.monotonic() > deadline:
            log.warning("another process has been recovering for 30 s; skipping recovery here")
            return result
        time.sleep(0.05)


def _recover(result: dict) -> dict:
    where = paths()
    roots = [where["modules"], where["staging"], where["backups"]]
    rows = list(db.session.scalars(select(InstallJournal).where(InstallJournal.step.notin_(("finished", "failed")))
                                   .order_by(InstallJournal.id)))
    for row in rows:
        with try_lock(row.slug) as free:
            if not free:
                continue
            db.session.refresh(row)
            data = dict(row.data or {})
            renames = [r for r in data.get("renames", []) if _inside(r[0], roots) and _inside(r[1], roots)]
            cleanup = [p for p in data.get("cleanup", []) if _inside(p, roots)]
            if row.done:
                for path in cleanup:
                    _remove(path)
                row.step = "finished"
                db.session.commit()
                result["finished"].append(row.slug)
                continue
            undo_renames(renames)
            for path in cleanup:
                if not any(path == src for src, _ in renames):
                    _remove(path)
            reason = str(_l("Interrupted while “%(step)s” (the panel stopped); everything was put back as it was.",
                            step=row.step))
            row.done = True
            row.step = "failed"
            row.data = {**data, "reason": reason}
            audit.record(data.get("actor") or "system", f"{data.get('kind', 'install')}_failed", row.slug, reason)
            module = db.session.get(Module, row.slug)
            if module is not None and data.get("kind") == "install" and data.get("old_version"):
                module.error = str(_l("The update to %(version)s failed and was undone: %(reason)s",
                                      version=data.get("new_version", "?"), reason=reason))[:1000]
            if row.job_id:
                job = db.session.get(Job, row.job_id)
                if job is not None and job.state in ("queued", "running"):
                    job.state, job.message = "failed", reason
            bump_generation()
            db.session.commit()
            result["undone"].append(row.slug)
    result["removed"] = clean_staging()
    return result


def clean_staging() -> list[str]:
    """Remove extraction folders and trash no live operation owns, and expired temporary files."""
    where = paths()
    ttl = int(current_app.config.get("PENDING_UPLOAD_TTL_SECONDS", 3600))
    removed = []
    busy = {row.slug for row in db.session.scalars(select(InstallJournal).where(InstallJournal.done.is_(False)))}

    def owner(name: str, prefix: str) -> str | None:
        if not name.startswith(prefix):
            return None
        slug = name[len(prefix):].split(".")[0]
        return slug if manifest_mod.SLUG_RE.match(slug) else None

    candidates = []
    for entry in where["staging"].iterdir() if where["staging"].is_dir() else []:
        if entry.name.startswith("dir-"):  # leftovers of the folder installer that came before the pipeline
            candidates.append((entry, None))
        elif entry.name not in ("tmp", "uploads") and entry.is_dir():
            candidates.append((entry, owner(entry.name, "")))
    for entry in where["backups"].iterdir() if where["backups"].is_dir() else []:
        for prefix in (".trash-", ".swap-"):
            slug = owner(entry.name, prefix)
            if slug:
                candidates.append((entry, slug))
    for entry, slug in candidates:
        if slug is not None and (slug in busy or is_locked(slug)):
            continue
        if slug is None and not entry.name.startswith("dir-"):
            continue
        _remove(str(entry))
        removed.append(entry.name)
    tmp = where["staging"] / "tmp"
    if tmp.is_dir():
        for entry in tmp.iterdir():
            with contextlib.suppress(FileNotFoundError):
                if time.time() - entry.stat().st_mtime > ttl:
                    _remove(str(entry))
                    removed.append(f"tmp/{entry.name}")
    from . import pending

    removed += [f"uploads/{name}" for name in pending.expire()]
    return removed
