"""Roll a module back: swap the live version with the one kept in backups, so a rollback can
itself be rolled back."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..errors import Conflict, ManifestError, PackageError
from ..extensions import db
from ..models import Module, utcnow
from ..runtime.registry import bump_code_generation
from ..services import audit
from ..services import modules as modules_service
from ..services.locks import module_lock
from . import activation
from .checks import core_problem
from .transaction import Transaction, paths


def rollback(slug: str, actor: str) -> Module:
    """Swap the live version with the kept one; an enabled module runs the kept code's migrations."""
    where = paths()
    modules_service.get(slug)
    with module_lock(slug):
        module = db.session.get(Module, slug, populate_existing=True) or modules_service.get(slug)
        live, backup = where["modules"] / slug, where["backups"] / slug
        if not (backup / "module.json").is_file():
            raise Conflict(_l("There is no earlier version of %(name)s to roll back to.", name=module.name))
        try:
            manifest = modules_service.read_manifest(backup)
        except ManifestError as exc:
            raise PackageError(exc.message) from None
        if manifest.slug != slug:
            raise PackageError(_l("The kept version is not a version of %(name)s.", name=module.name))
        problem = core_problem(manifest)
        if problem is not None:
            raise PackageError(problem)
        current, was_enabled = module.version, module.state == "enabled"
        transaction = Transaction(
            "rollback", slug, actor, old_version=current, new_version=manifest.version_str,
            old_state=module.state,
            failure_message=lambda error: _l("The rollback failed and was undone: %(error)s", error=error))
        swap = where["backups"] / f".swap-{slug}.{transaction.op}"
        loaded = None
        with transaction:
            transaction.move([(live, swap), (backup, live), (swap, backup)], ["moved_live", "swapped", "moved_backup"])
            modules_service.apply_manifest(module, manifest)
            module.previous_version = current
            module.installed_at = utcnow()
            module.error = None
            bump_code_generation()
            db.session.flush()
            if was_enabled:
                loaded = activation.activate(module, live)
            audit.record(actor, "rolled_back", slug, f"{current} → {manifest.version_str}")
            transaction.commit()
        activation.serve_after_commit(slug, loaded)
        transaction.finish()
        return db.session.get(Module, slug)
