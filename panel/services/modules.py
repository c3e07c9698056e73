"""Installed modules: discovery, listing, enabling and disabling."""

import logging
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select

from .. import manifest as manifest_mod
from ..errors import Conflict, ManifestError, NotFound
from ..extensions import db
from ..models import Module, utcnow
from ..runtime.registry import LoadError, bump_generation, describe, run_module_migrations
from . import audit

log = logging.getLogger(__name__)
STATES = ("enabled", "disabled", "failed")


def registry():
    return current_app.extensions["module_registry"]


def get(slug: str) -> Module:
    module = db.session.get(Module, slug) if isinstance(slug, str) and len(slug) <= 48 else None
    if module is None:
        raise NotFound(_l("There is no installed module named “%(slug)s”.", slug=str(slug)[:60]))
    return module


def listing(query: str = "", state: str = "", columns: tuple = ()) -> list:
    """Installed modules matching the search, by name: `Module`s, or with `columns` plain rows of
    just those columns, several times cheaper for a long list."""
    stmt = select(*columns) if columns else select(Module)
    stmt = stmt.order_by(func.lower(Module.name), Module.slug)
    query = (query or "").strip().lower()
    if query:
        # What the administrator types is plain text: `%` and `_` are not wildcards.
        like = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(*(func.lower(column).like(like, escape="\\")
                                for column in (Module.name, Module.description, Module.slug))))
    if state in STATES:
        stmt = stmt.where(Module.state == state)
    return list(db.session.execute(stmt).all() if columns else db.session.scalars(stmt))


def counts() -> dict[str, int]:
    rows = db.session.execute(select(Module.state, func.count()).group_by(Module.state)).all()
    result = {state: 0 for state in STATES}
    result.update({state: n for state, n in rows})
    result["installed"] = sum(n for _, n in rows)
    return result


def apply_manifest(module: Module, manifest: manifest_mod.Manifest) -> None:
    module.name = manifest.name
    module.version = manifest.version_str
    module.description = manifest.description
    module.author = manifest.author
    module.category = manifest.category
    module.docs_url = manifest.docs_url
    module.manifest = manifest.raw
    if module.section_key is None and manifest.menu.get("section"):
        from .sidebar import section_exists
        if section_exists(manifest.menu["section"]):
            module.section_key = manifest.menu["section"]


def read_manifest(folder: Path) -> manifest_mod.Manifest:
    file = folder / "module.json"
    if not file.is_file():
        raise ManifestError(_l("module.json is missing."))
    return manifest_mod.parse(file.read_bytes())


def discover(actor: str = "system") -> list[str]:
    """Register module folders copied into the modules folder by hand, as disabled."""
    root = Path(current_app.config["MODULES_PATH"])
    known = set(db.session.scalars(select(Module.slug)))
    found = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        if folder.name in known or not manifest_mod.SLUG_RE.match(folder.name):
            continue
        from ..installer.pipeline import is_locked

        if is_locked(folder.name):  # an install is putting this folder in place right now
            continue
        module = Module(slug=folder.name, name=folder.name, version="0", state="disabled", source="folder")
        try:
            manifest = read_manifest(folder)
            if manifest.slug != folder.name:
                raise ManifestError(_l("module.json: field “slug” (%(slug)s) does not match its folder name.",
                                       slug=manifest.slug))
            apply_manifest(module, manifest)
        except ManifestError as exc:
            module.state, module.error = "failed", str(exc)
        db.session.add(module)
        audit.record(actor, "discovered", folder.name, module.error or "")
        found.append(folder.name)
    if found:
        bump_generation()
        db.session.commit()
    return found


def keep_loaded_after_commit() -> None:
    """A toggle's answer is rendered from the rows it just wrote (the module, the signed-in user):
    keep them loaded after the commit instead of reading them again. Only this session is affected."""
    db.session().expire_on_commit = False


def enable(slug: str, actor: str) -> Module:
    keep_loaded_after_commit()
    module = get(slug)
    reg = registry()
    if module.state == "enabled":
        return module
    folder = Path(current_app.config["MODULES_PATH"]) / slug
    try:
        manifest = read_manifest(folder)
        apply_manifest(module, manifest)
        missing = missing_requirements(manifest)
        if missing:
            raise Conflict(_l("%(name)s needs %(missing)s enabled first.", name=module.name,
                              missing=", ".join(missing)))
        loaded = reg.load(module)
        run_module_migrations(slug, folder, loaded.api)
        loaded.api.run_hook("enable")
    except Conflict:
        db.session.rollback()
        raise
    except (LoadError, ManifestError, Exception) as exc:  # noqa: BLE001 — module code is untrusted
        db.session.rollback()
        module = get(slug)
        module.state = "failed"
        module.error = str(exc) if isinstance(exc, (LoadError, ManifestError)) else describe(exc)
        audit.record(actor, "enable_failed", slug, module.error)
        bump_generation()
        db.session.commit()
        reg.drop(slug)
        return module
    module.state = "enabled"
    module.error = None
    audit.record(actor, "enabled", slug)
    bump_generation()
    db.session.commit()
    reg.adopt(loaded)
    return module


def disable(slug: str, actor: str) -> Module:
    keep_loaded_after_commit()
    module = get(slug)
    if module.state != "enabled":
        return module
    dependants = [m.name for m in enabled_dependants(slug)]
    if dependants:
        raise Conflict(_l("%(name)s is needed by %(others)s; disable those first.", name=module.name,
                          others=", ".join(dependants)))
    reg = registry()
    loaded = reg.get(slug)
    hook_error = ""
    if loaded is not None:
        try:
            loaded.api.run_hook("disable")
        except Exception as exc:  # noqa: BLE001 — a broken hook must not keep a module on
            db.session.rollback()
            hook_error = describe(exc)
            module = get(slug)
    module.state = "disabled"
    module.error = None
    audit.record(actor, "disabled", slug, hook_error and f"disable hook failed: {hook_error}")
    bump_generation()
    db.session.commit()
    reg.drop(slug)
    return module


def missing_requirements(manifest: manifest_mod.Manifest) -> list[str]:
    """The `requires` of a manifest that no enabled module satisfies, as readable text."""
    missing = []
    for other, spec in manifest.requires.items():
        module = db.session.get(Module, other)
        if module is None or module.state != "enabled" or (spec and module.version not in spec):
            missing.append(f"{other}{spec}")
    return missing


def enabled_dependants(slug: str) -> list[Module]:
    enabled = db.session.scalars(select(Module).where(Module.state == "enabled", Module.slug != slug))
    return [m for m in enabled if slug in ((m.manifest or {}).get("requires") or {})]


def touch(module: Module) -> None:
    module.updated_at = utcnow()
