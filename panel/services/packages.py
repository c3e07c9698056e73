"""Installed packages kept in the database, so each node can put the same module code on its disk.

The installer keeps the package of every version it installs (`keep`, part of its transaction);
`wanted()` says which package each installed module should have on disk now (its current version),
and `following` in the installer puts it there on each node.
"""

from sqlalchemy import delete, insert, select

from ..extensions import db
from ..models import Module, ModulePackage


def keep(slug: str, version: str, data: bytes, sha256: str) -> None:
    """Store the package's bytes (replacing a package of the same version); not committed."""
    # Replaced without being loaded: a reinstall would read the old bytes only to overwrite them.
    db.session.execute(delete(ModulePackage).where(ModulePackage.slug == slug, ModulePackage.version == version))
    db.session.execute(insert(ModulePackage).values(slug=slug, version=version, sha256=sha256, size=len(data),
                                                    data=data))
    # Only the current and the previous version can be needed again (a rollback goes back one).
    module = db.session.get(Module, slug)
    keep_versions = {version, module.version if module else version, module.previous_version if module else None}
    db.session.execute(delete(ModulePackage).where(ModulePackage.slug == slug,
                                                   ModulePackage.version.not_in([v for v in keep_versions if v])))


def forget(slug: str) -> None:
    """Drop every package of an uninstalled module; not committed."""
    db.session.execute(delete(ModulePackage).where(ModulePackage.slug == slug))


def wanted() -> dict[str, tuple[str, str]]:
    """slug -> (version, sha256) of the package each installed module should have on disk."""
    rows = db.session.execute(select(Module.slug, Module.version, ModulePackage.sha256)
                              .join(ModulePackage, (ModulePackage.slug == Module.slug)
                                    & (ModulePackage.version == Module.version)))
    return {slug: (version, sha256) for slug, version, sha256 in rows}


def installed_slugs() -> set[str]:
    return set(db.session.scalars(select(Module.slug)))


def package_bytes(slug: str, version: str) -> tuple[bytes, str] | None:
    row = db.session.get(ModulePackage, (slug, version))
    return (row.data, row.sha256) if row else None
