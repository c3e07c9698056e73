"""Folder installs until the one install pipeline takes them over."""

import shutil
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l

from .errors import Conflict, PackageError
from .extensions import db
from .models import Module
from .runtime.registry import bump_generation
from .services import audit, modules


def install_dir(source: Path, actor: str) -> str:
    manifest = modules.read_manifest(source)
    target = Path(current_app.config["MODULES_PATH"]) / manifest.slug
    if target.exists() or db.session.get(Module, manifest.slug):
        raise Conflict(_l("A module named “%(slug)s” is already installed.", slug=manifest.slug))
    if not (source / "__init__.py").is_file():
        raise PackageError(_l("The module folder has no __init__.py."))
    staging = Path(current_app.config["STAGING_PATH"]) / f"dir-{manifest.slug}"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    staging.rename(target)
    module = Module(slug=manifest.slug, name=manifest.name, version=manifest.version_str, source="folder")
    modules.apply_manifest(module, manifest)
    db.session.add(module)
    audit.record(actor, "installed", manifest.slug, manifest.version_str)
    bump_generation()
    db.session.commit()
    return manifest.slug
