"""Install or update a module from a package: the one pipeline every source goes through."""

from __future__ import annotations

import contextlib
import os
import uuid
import zipfile
from pathlib import Path
from typing import Callable

from flask import current_app
from flask_babel import lazy_gettext as _l

from ..errors import Conflict, PackageError
from ..extensions import db
from ..models import Module, utcnow
from ..runtime import bytecode
from ..runtime.registry import bump_code_generation
from ..services import audit, licenses, packages
from ..services import modules as modules_service
from ..services.locks import module_lock
from ..versions import newer
from . import activation, archive, following
from .checks import check_free_space, check_same_filesystem, requirement_problems
from .transaction import Transaction, checkpoint, exists, paths

Progress = Callable[[str, int, int], None]


def _no_progress(phase: str, done: int, total: int) -> None:
    pass


def install_package(zip_path: Path, actor: str, *, source: str = "upload", allow_downgrade: bool = False,
                    expected_slug: str | None = None, progress: Progress | None = None,
                    job_id: int | None = None, sha256: str | None = None) -> Module:
    """Install or update a module from a `.zip`: validate, extract to staging, swap it in (the
    installed version kept in backups), activate it, commit; any failure puts everything back.

    The package is read from disk once: validated, unpacked and kept for the other nodes from
    memory. `sha256` is its digest when the caller has it already (a download hashes as it goes)."""
    progress = progress or _no_progress
    limits = archive.Limits.from_config(current_app.config)
    where = paths()
    progress("validate", 0, 1)
    data = archive.read_package(Path(zip_path), limits)
    info = archive.inspect(data, limits, sha256=sha256)
    manifest = info.manifest
    slug = manifest.slug
    if expected_slug and slug != expected_slug:
        raise PackageError(_l("The package holds the module “%(slug)s”, not “%(expected)s”.", slug=slug,
                              expected=expected_slug))
    licenses.require_install(slug, manifest.version_str)  # whatever the source: a paid slug needs the license
    progress("validate", 1, 1)
    checkpoint("validated")
    with module_lock(slug):
        existing = db.session.get(Module, slug, populate_existing=True)
        live, backup = where["modules"] / slug, where["backups"] / slug
        if existing is None and exists(live):
            raise Conflict(_l("A folder named “%(slug)s” is already in the modules folder but is not a registered "
                              "module; remove it or reload the modules page first.", slug=slug))
        if existing is not None and newer(existing.version, manifest.version) and not allow_downgrade:
            raise Conflict(_l("%(name)s %(new)s is older than the installed %(old)s; confirm the downgrade to "
                              "install it.", name=manifest.name, new=manifest.version_str, old=existing.version))
        problems = requirement_problems(manifest)
        if problems:
            raise PackageError(problems[0])
        check_same_filesystem(where["staging"], where["modules"], where["backups"])
        check_free_space(where["staging"], info.unpacked_bytes)

        old_version = existing.version if existing else None

        def record_failure(reason: str) -> None:
            audit.record(actor, "install_failed", slug, f"{manifest.version_str}: {reason}")
            kept = db.session.get(Module, slug) if existing is not None and transaction.moved else None
            if kept is not None:
                kept.error = str(_l("The update to %(version)s failed and was undone: %(reason)s",
                                    version=manifest.version_str, reason=reason))[:1000]
                bump_code_generation()

        transaction = Transaction(
            "install", slug, actor, job_id=job_id, on_failure=record_failure,
            failure_message=lambda error: _l("The install failed and was undone: %(error)s", error=error),
            old_version=old_version, new_version=manifest.version_str,
            old_state=existing.state if existing else None, source=source)
        op_dir = where["staging"] / f"{slug}.{transaction.op}"
        trash = where["backups"] / f".trash-{slug}.{transaction.op}"
        transaction.cleanup = [str(op_dir), str(trash)]
        with transaction:
            transaction.step("extract")
            op_dir.mkdir(mode=0o700)
            archive.extract(data, op_dir / "pkg", limits, checked=info,
                            progress=lambda done, total: progress("extract", done, total))
            bytecode.precompile(op_dir / "pkg", lands_at=live)
            checkpoint("extracted")
            progress("swap", 0, 1)
            renames, steps = [], []
            if exists(backup):
                renames.append((backup, trash))
                steps.append("moved_old_backup")
            if existing is not None and exists(live):
                renames.append((live, backup))
                steps.append("moved_live")
            renames.append((op_dir / "pkg", live))
            steps.append("swapped")
            transaction.move(renames, steps)
            progress("swap", 1, 1)

            progress("migrate", 0, 1)
            # No progress from here to the commit: a job writes its progress by committing the
            # session, which would commit this half-made change with it.
            module = _record(existing, manifest, source)
            packages.keep(slug, manifest.version_str, data, info.sha256)  # for the other nodes
            hook = ("install",) if existing is None else ("upgrade", old_version)
            loaded = activation.activate(module, live, hook=hook, keep_if_broken=existing is None)
            checkpoint("migrated")
            if existing is None:
                audit.record(actor, "installed", slug, f"{manifest.version_str} ({source})")
            else:
                audit.record(actor, "updated", slug, f"{old_version} → {manifest.version_str} ({source})")
            bump_code_generation()
            transaction.commit()
        progress("record", 1, 1)
        activation.serve_after_commit(slug, loaded)
        following.mark(slug, manifest.version_str, info.sha256)  # this node has it on disk already
        transaction.finish()
        checkpoint("finished")
        progress("done", 1, 1)
        return db.session.get(Module, slug)


def _record(existing: Module | None, manifest, source: str) -> Module:
    """The module's row as the new version makes it (not committed); a new module starts disabled."""
    if existing is None:
        module = Module(slug=manifest.slug, name=manifest.name, version=manifest.version_str, state="disabled",
                        source=source)
        db.session.add(module)
    else:
        module = existing
        module.previous_version = module.version
        if module.state == "failed":
            module.state = "disabled"
    modules_service.apply_manifest(module, manifest)
    module.source = source
    module.error = None
    module.installed_at = utcnow()
    bump_code_generation()  # opens the write transaction first, so the migrations' DDL is part of it
    db.session.flush()
    return module


def install_folder(source: Path, actor: str, *, source_name: str = "folder") -> Module:
    """Zip a module folder into a temporary package and send it through the pipeline."""
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


def install_dir(source: Path, actor: str) -> str:
    """A folder install that refuses a module already installed (`modules install-dir`); the slug."""
    manifest = modules_service.read_manifest(Path(source))
    if db.session.get(Module, manifest.slug) is not None:
        raise Conflict(_l("A module named “%(slug)s” is already installed.", slug=manifest.slug))
    return install_folder(Path(source), actor, source_name="folder").slug
