"""What must hold before a package is installed: shared by the upload report and the installer."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from flask_babel import lazy_gettext as _l

from ..errors import PackageError
from ..manifest import Manifest
from ..services import dependencies
from ..versions import CORE_VERSION, core_compatible

FREE_SPACE_MARGIN = 16 * 1024 * 1024


def core_problem(manifest: Manifest):
    """The sentence saying this panel is too old or too new for the manifest, or None."""
    if core_compatible(manifest.requires_core):
        return None
    return _l("%(name)s needs panel version %(spec)s; this panel is %(core)s.", name=manifest.name,
              spec=str(manifest.requires_core), core=CORE_VERSION)


def requirement_problems(manifest: Manifest) -> list:
    """Every reason the manifest's version cannot be installed now, one sentence each."""
    problems = [problem for problem in [core_problem(manifest)] if problem is not None]
    unmet = dependencies.unmet(manifest)
    absent = [requirement.text for requirement in unmet if not requirement.version_fits]
    if absent:
        problems.append(_l("%(name)s needs these modules installed first: %(missing)s.", name=manifest.name,
                           missing=", ".join(absent)))
    elif unmet:  # installed in a version that fits, but not enabled
        problems.append(_l("%(name)s needs %(missing)s enabled first.", name=manifest.name,
                           missing=", ".join(requirement.text for requirement in unmet)))
    broken = dependencies.broken_by(manifest)
    if broken:
        problems.append(_l("Version %(version)s would break modules that require another version: %(others)s.",
                           version=manifest.version_str, others=", ".join(broken)))
    return problems


def check_same_filesystem(*folders: Path) -> None:
    devices = {os.stat(folder).st_dev for folder in folders}
    if len(devices) != 1:
        raise PackageError(_l("The staging, backups and modules folders must be on the same file system."))


def check_free_space(folder: Path, needed: int) -> None:
    free = shutil.disk_usage(folder).free
    if free < needed + FREE_SPACE_MARGIN:
        raise PackageError(_l("There is not enough free disk space to unpack the package "
                              "(%(needed)s MB needed, %(free)s MB free).",
                              needed=(needed + FREE_SPACE_MARGIN) // (1024 * 1024), free=free // (1024 * 1024)))
