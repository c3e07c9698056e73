"""Uninstall a module: run its hooks, move its code (and kept version) out, delete its row."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select, text

from ..errors import Conflict
from ..extensions import db
from ..models import Module, ModuleMigration, ModuleSetting
from ..runtime.registry import LoadError, bump_code_generation, describe
from ..services import audit, dependencies, packages
from ..services import modules as modules_service
from ..services.locks import module_lock
from . import activation
from .transaction import Transaction, exists, paths


def module_tables(slug: str) -> list[str]:
    """Tables named `mod_<slug>_…`, leaving out those of another module whose slug extends this one."""
    others = [s for s in db.session.scalars(select(Module.slug)) if s != slug and s.startswith(slug + "_")]
    names = sa_inspect(db.session.connection()).get_table_names()
    prefix = f"mod_{slug}_"
    return [n for n in names if n.startswith(prefix) and not any(n.startswith(f"mod_{o}_") for o in others)]


def _run_hooks(module: Module, was_enabled: bool) -> list[str]:
    """The disable (when enabled) and uninstall hooks, in the transaction; what went wrong, as notes."""
    reg = activation.registry()
    notes = []
    loaded = reg.loaded.get(module.slug) if was_enabled else None
    if loaded is None and (paths()["modules"] / module.slug / "__init__.py").is_file():
        try:
            with reg.lock:
                loaded = reg.load(module)
        except LoadError as exc:
            notes.append(f"code did not load: {exc}")
    if loaded is not None:
        with activation.in_transaction(loaded.api):
            for hook in (("disable", "uninstall") if was_enabled else ("uninstall",)):
                try:
                    loaded.api.run_hook(hook)
                except Exception as exc:  # noqa: BLE001 — a broken hook must not block removal
                    notes.append(f"{hook} hook failed: {describe(exc)}")
    return notes


def _delete_data(slug: str) -> list[str]:
    """The module's settings, migration records and tables; the tables dropped."""
    db.session.query(ModuleSetting).filter_by(slug=slug).delete()
    db.session.query(ModuleMigration).filter_by(slug=slug).delete()
    dropped = module_tables(slug)
    for table in dropped:
        db.session.execute(text(f'DROP TABLE IF EXISTS "{table}"'))
    return dropped


def uninstall(slug: str, actor: str, delete_data: bool = False) -> None:
    """Disable, run the uninstall hook, remove the code (and backups); keep the data unless asked."""
    modules_service.get(slug)
    where = paths()
    with module_lock(slug):
        module = db.session.get(Module, slug, populate_existing=True) or modules_service.get(slug)
        needed_by = dependencies.dependants(slug)
        if needed_by:
            raise Conflict(_l("%(name)s is needed by %(others)s; disable or uninstall those first.",
                              name=module.name, others=", ".join(m.name for m in needed_by)))
        name, version, was_enabled = module.name, module.version, module.state == "enabled"
        transaction = Transaction(
            "uninstall", slug, actor, old_version=version, old_state=module.state, delete_data=delete_data,
            failure_message=lambda error: _l("%(name)s could not be uninstalled: %(error)s", name=name,
                                             error=error))
        live, backup = where["modules"] / slug, where["backups"] / slug
        trash_live = where["backups"] / f".trash-{slug}.{transaction.op}"
        trash_backup = where["backups"] / f".trash-{slug}.{transaction.op}.previous"
        transaction.cleanup = [str(trash_live), str(trash_backup)]
        with transaction:
            notes = _run_hooks(module, was_enabled)
            renames, steps = [], []
            if exists(live):
                renames.append((live, trash_live))
                steps.append("moved_live")
            if exists(backup):
                renames.append((backup, trash_backup))
                steps.append("moved_backup")
            transaction.move(renames, steps)
            db.session.delete(db.session.get(Module, slug))
            packages.forget(slug)  # other nodes remove their copy when they see it gone
            dropped = _delete_data(slug) if delete_data else []
            detail = version + (" (data deleted)" if delete_data else " (data kept)")
            if notes:
                detail += "; " + "; ".join(notes)
            audit.record(actor, "uninstalled", slug, detail)
            bump_code_generation()
            transaction.commit(dropped=dropped)
        activation.forget(slug)
        transaction.finish()
