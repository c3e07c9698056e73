"""Packages for modules installed before the panel kept them (migration 0005).

Such a module has its files on the node that installed it and no stored package, so no other node
can put its code on disk. The node that has the files rebuilds the package from them — only when
the folder's module.json names the installed version, and only through the same archive checks an
upload passes — and stores it with its sha256, once: under the module's lock (across nodes on
PostgreSQL), after checking again that no other worker or node stored it meanwhile.
"""

import io
import logging
import os
import zipfile
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from ..errors import PanelError
from ..extensions import db
from ..models import Module, ModulePackage
from ..runtime.registry import bump_code_generation
from ..services import packages
from ..services.locks import module_lock
from . import archive
from .transaction import paths

log = logging.getLogger(__name__)
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed, so the same folder gives the same bytes


def _zip_folder(folder: Path) -> bytes | None:
    """The folder as a package (module.json at its root), without caches; None if it holds a link."""
    if folder.is_symlink():
        return None
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as package:
        for parent, dirnames, filenames in os.walk(folder):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            if any(os.path.islink(os.path.join(parent, d)) for d in dirnames):
                return None
            for name in sorted(filenames):
                full = os.path.join(parent, name)
                if name.endswith(".pyc"):
                    continue
                if os.path.islink(full) or not os.path.isfile(full):
                    return None
                info = zipfile.ZipInfo(os.path.relpath(full, folder).replace(os.sep, "/"), date_time=ZIP_DATE)
                info.external_attr = 0o100644 << 16
                with open(full, "rb") as fh:
                    package.writestr(info, fh.read(), compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def _missing() -> list[tuple[str, str]]:
    """(slug, version) of installed modules with no stored package of their version."""
    return list(db.session.execute(
        select(Module.slug, Module.version)
        .outerjoin(ModulePackage, (ModulePackage.slug == Module.slug) & (ModulePackage.version == Module.version))
        .where(ModulePackage.slug.is_(None))))


def _store_one(slug: str, version: str) -> str | None:
    """Rebuild and store one package from this node's folder; its sha256, or None when not stored."""
    folder = paths()["modules"] / slug
    data = _zip_folder(folder)
    if data is None:
        log.warning("the folder of %s holds a link; its package was not stored", slug)
        return None
    try:
        info = archive.inspect(data, archive.Limits.from_config(current_app.config))
    except PanelError as exc:
        log.warning("the folder of %s does not make a valid package (%s); not stored", slug, exc)
        return None
    if info.manifest.slug != slug or info.manifest.version_str != version:
        return None  # the folder holds another version than the one installed: not what the database says
    packages.keep(slug, version, data, info.sha256)
    return info.sha256


def store_missing() -> list[tuple[str, str, str]]:
    """Store the package of each installed module that has none and whose files this node holds;
    (slug, version, sha256) of each stored. Committed; other nodes then follow as after an install."""
    stored = []
    for slug, version in _missing():
        if not (paths()["modules"] / slug / "module.json").is_file():
            continue  # not on this node (no lock taken): the node that has the files stores it
        try:
            with module_lock(slug):  # refused at once while an install or another node holds it
                db.session.rollback()  # read afresh under the lock: another worker or node may have stored it
                module = db.session.get(Module, slug)
                if module is None or module.version != version or \
                        db.session.get(ModulePackage, (slug, version)) is not None:
                    continue
                sha256 = _store_one(slug, version)
                if sha256 is None:
                    db.session.rollback()
                    continue
                bump_code_generation()
                db.session.commit()
                stored.append((slug, version, sha256))
                log.info("the package of %s %s was rebuilt from its folder and stored", slug, version)
        except PanelError:  # busy: the next catch-up tries again
            db.session.rollback()
    return stored
