"""Which modules this worker process has loaded, kept in step with the database.

The database is the only truth: every module state change moves the shared `generation`
counter, and a worker about to serve a module (its page, its disable hook) reads that module's row
again whenever the counter moved since it last did. So a toggle made by one worker is seen by every
other one on its very next request.
"""

import itertools
import logging
import os
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app, has_app_context
from sqlalchemy import select

from ..extensions import db
from ..models import Module, ModuleMigration
from . import pages_root, state
from .facade import ModuleAPI
from .importer import ModuleFinder

log = logging.getLogger(__name__)
_namespaces = itertools.count(1)


class LoadError(Exception):
    """Module code raised while importing or setting up; the message is for its card."""


@dataclass
class LoadedModule:
    slug: str
    token: str
    api: ModuleAPI
    path: Path
    fingerprint: tuple = ()
    code: dict = field(default_factory=dict)  # its entries of sys.modules, to put back when reused


def fingerprint(path: Path) -> tuple:
    """Name, inode, size and change times of each file a module's code is made of (static files
    are served from disk and do not count). A file rewritten in place gets a new change time, a
    replaced one a new inode: equal fingerprints, the same code on disk."""
    found = []
    pending = [path]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name not in ("__pycache__", "static"):
                        pending.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    stat = entry.stat(follow_symlinks=False)
                    found.append((entry.path, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns))
    return tuple(sorted(found))


def load_token(module: Module) -> str:
    return f"{module.version}@{module.installed_at.isoformat() if module.installed_at else ''}"


def describe(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" ({Path(frames[-1].filename).name}, line {frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"[:1000]


def forget_templates(slug: str) -> None:
    """Drop a module's compiled templates from Jinja's cache (an update replaces their files)."""
    cache = current_app.jinja_env.cache if has_app_context() else None
    registry = current_app.extensions.get("module_registry") if cache is not None else None
    if cache is None or (registry is not None and slug not in registry.templated):
        return  # most modules have no template compiled: no need to look through the whole cache
    if registry is not None:
        registry.templated.discard(slug)  # before the look: one compiled meanwhile puts it back
    for key in list(cache.keys()):
        name = key[1] if isinstance(key, tuple) and len(key) > 1 else key
        if isinstance(name, str) and name.removeprefix("@").startswith(f"{slug}/"):
            try:
                del cache[key]
            except KeyError:
                pass


def bump_generation() -> None:
    """Tell every worker that module states changed; part of the caller's transaction."""
    state.bump("generation")


def current_generation() -> int:
    return state.value("generation")


# A second counter that moves only when module CODE changes (install, update, uninstall, rollback),
# not on a toggle: a node follows code from the database only when it moved, so the many toggles
# of a busy panel never make every worker re-read what each node should have on disk.
def bump_code_generation() -> None:
    """Module code changed (and so its state): both counters move, in the caller's transaction."""
    state.bump("generation", "code")


def current_code_generation() -> int:
    return state.value("code")


class Registry:
    def __init__(self, modules_path: str):
        self.modules_path = Path(modules_path)
        self.finder = ModuleFinder(f"_panel_modules_{next(_namespaces)}", self.modules_path)
        self.finder.install()
        self.loaded: dict[str, LoadedModule] = {}
        self.dormant: dict[str, LoadedModule] = {}  # dropped, kept to be taken up again unchanged
        self.templated: set[str] = set()  # modules whose templates Jinja has compiled (ui.jinja)
        self.checked: dict[str, int] = {}  # slug -> the generation its row was last compared at (`get`)
        self.lock = threading.RLock()

    # loading -----------------------------------------------------------------------
    def load(self, module: Module) -> LoadedModule:
        """The module's code, set up by its `setup(api)`; raises LoadError.

        Code this process loaded before and dropped is taken up again while its files are
        unchanged (switching a module off and on again need not import it again); otherwise it
        is imported afresh. A failed load is never kept, so a fixed file is always read."""
        path = self.modules_path / module.slug
        if not os.path.isfile(os.path.join(path, "__init__.py")):
            raise LoadError(f"FileNotFoundError: {module.slug}/__init__.py is missing")
        on_disk = fingerprint(path)
        with self.lock:
            dormant = self.dormant.get(module.slug)
        if dormant is not None and dormant.fingerprint == on_disk and dormant.token == load_token(module):
            self.finder.restore(module.slug, dormant.code)
            return dormant
        forget_templates(module.slug)  # the files may have changed: compile its templates again too
        try:
            code = self.finder.import_module(module.slug)
            setup = getattr(code, "setup", None)
            if not callable(setup):
                raise LoadError(f"{module.slug}/__init__.py defines no setup(api) function")
            api = ModuleAPI(module.slug, module.manifest or {}, pages_root(module.slug))
            setup(api)
        except LoadError:
            self.finder.forget(module.slug)
            raise
        except Exception as exc:  # noqa: BLE001 — any error in module code is the module's
            self.finder.forget(module.slug)
            raise LoadError(describe(exc)) from exc
        return LoadedModule(module.slug, load_token(module), api, path, on_disk, self.finder.loaded_code(module.slug))

    def adopt(self, loaded: LoadedModule) -> None:
        with self.lock:
            self.loaded[loaded.slug] = loaded
            self.dormant.pop(loaded.slug, None)

    def drop(self, slug: str, keep: LoadedModule | None = None) -> None:
        """Stop serving `slug`; its code (or `keep`, loaded to run its disable hook) is kept dormant."""
        with self.lock:
            served = self.loaded.pop(slug, None)
            loaded = keep if keep is not None else served
            if loaded is not None:
                self.dormant[slug] = loaded
            self.finder.forget(slug)

    def forget(self, slug: str) -> None:
        """Drop a module and whatever this process kept of its code (it is being uninstalled)."""
        with self.lock:
            self.drop(slug)
            self.dormant.pop(slug, None)
            forget_templates(slug)

    def for_hook(self, module: Module) -> LoadedModule | None:
        """The module's code as it is on disk for the row the caller read (and holds), to run one of
        its hooks: what this worker has loaded when it is that code, else loaded now (not kept as
        serving: the caller is switching it off). None when it does not load here, which is logged.

        Not `get`, which reads the row again through the ORM: a disable in a worker that had not
        served the module spent twice as long on that read as on the import (at 1,000 enabled)."""
        with self.lock:
            loaded = self.loaded.get(module.slug)
        if loaded is not None and loaded.token == load_token(module):
            return loaded
        return self._load_or_log(module)

    def _load_or_log(self, module: Module) -> LoadedModule | None:
        """`load`, or None when the module's code fails to load here (logged: its row says enabled)."""
        try:
            return self.load(module)
        except LoadError as exc:
            log.error("module %s is enabled but failed to load in this worker: %s", module.slug, exc)
            return None

    # keeping in step ------------------------------------------------------------------
    def get(self, slug: str) -> LoadedModule | None:
        """`slug`'s code as this worker should serve it now, loaded on first use; None when the module
        is not enabled (or its code failed to load here, which is logged).

        Only the module asked for is looked at: a worker serving one module's page never imports the
        others. Loading every enabled module took a fresh worker's first module page
        1.9 s at a thousand modules of 9 KB each (importing compiles each file; `bench/module_page.py`),
        and grew with them."""
        generation = current_generation()
        with self.lock:
            if self.checked.get(slug) == generation:
                return self.loaded.get(slug)
            module = db.session.get(Module, slug)
            loaded = self.loaded.get(slug)
            if module is None or module.state != "enabled":
                self.drop(slug)
            elif loaded is None or loaded.token != load_token(module):
                self.drop(slug)
                found = self._load_or_log(module)
                if found is not None:
                    self.adopt(found)
            self.checked[slug] = generation
            return self.loaded.get(slug)


def run_module_migrations(slug: str, path: Path, api: ModuleAPI) -> list[str]:
    """Run the module's pending `migrations/NNNN_*.py` files (each defines `upgrade(db)`)."""
    if not os.path.isdir(os.path.join(path, "migrations")):  # most modules have none: one stat, no Path
        return []
    folder = path / "migrations"
    done = set(db.session.scalars(select(ModuleMigration.name).where(ModuleMigration.slug == slug)))
    applied = []
    for file in sorted(folder.glob("[0-9]*.py")):
        if file.stem in done:
            continue
        namespace: dict = {"__name__": f"module_migration_{slug}_{file.stem}", "__file__": str(file)}
        try:
            exec(compile(file.read_text(encoding="utf-8"), str(file), "exec"), namespace)
            namespace["upgrade"](api.db)
        except Exception as exc:  # noqa: BLE001
            raise LoadError(f"migration {file.name}: {describe(exc)}") from exc
        db.session.add(ModuleMigration(slug=slug, name=file.stem))
        applied.append(file.stem)
    return applied
