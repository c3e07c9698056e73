"""Bringing a module's code in place to life, shared by install and rollback: load it, run its
migrations and a hook inside the caller's transaction; after the commit serve it (or forget it);
after an undo serve the restored code again."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l

from ..errors import PackageError
from ..extensions import db
from ..models import Module
from ..runtime.registry import LoadError, describe, forget_templates, run_module_migrations

log = logging.getLogger(__name__)


def registry():
    return current_app.extensions["module_registry"]


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
def in_transaction(api):
    saved = api.db
    api.db = _TransactionalDatabase(saved)
    try:
        yield
    finally:
        api.db = saved


def activate(module: Module, live: Path, *, hook: tuple = (), keep_if_broken: bool = False):
    """Load the module's code, run its migrations and `hook` (name, *arguments) in the caller's
    transaction; the loaded module, not yet served. A failure raises PackageError with one sentence,
    except that with `keep_if_broken` code that does not load marks the module failed (None)."""
    reg = registry()
    with reg.lock:
        try:
            loaded = reg.load(module)
        except LoadError as exc:
            if keep_if_broken:
                module.state, module.error = "failed", str(exc)
                return None
            raise PackageError(_l("The code of version %(version)s failed to load: %(error)s",
                                  version=module.version, error=str(exc))) from exc
        with in_transaction(loaded.api):
            try:
                run_module_migrations(module.slug, live, loaded.api)
            except LoadError as exc:
                raise PackageError(_l("A migration of %(name)s failed: %(error)s", name=module.name,
                                      error=str(exc))) from exc
            if hook:
                try:
                    loaded.api.run_hook(*hook)
                except Exception as exc:  # noqa: BLE001 — module code is untrusted
                    raise PackageError(_l("The %(hook)s hook of %(name)s failed: %(error)s", hook=hook[0],
                                          name=module.name, error=describe(exc))) from exc
        db.session.flush()
    return loaded


def serve_after_commit(slug: str, loaded) -> None:
    """Serve the code just activated if the module is enabled; otherwise keep none of it."""
    reg = registry()
    module = db.session.get(Module, slug)
    with reg.lock:
        if loaded is not None and module is not None and module.state == "enabled":
            forget_templates(slug)
            reg.adopt(loaded)
        else:
            reg.forget(slug)


def forget(slug: str) -> None:
    reg = registry()
    with reg.lock:
        reg.forget(slug)


def reload(slug: str) -> None:
    """After an undo, serve the restored code in this worker again (when the module is enabled)."""
    reg = registry()
    module = db.session.get(Module, slug)
    if module is None or module.state != "enabled":
        return
    with reg.lock:
        try:
            reg.adopt(reg.load(module))
        except LoadError as exc:
            log.error("restored module %s failed to reload: %s", slug, exc)
