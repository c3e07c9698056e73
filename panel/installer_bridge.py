"""Folder installs (`modules install-dir`, tests' `install_sample`) through the one install pipeline."""

from pathlib import Path

from flask_babel import lazy_gettext as _l

from .errors import Conflict
from .extensions import db
from .models import Module
from .services import modules


def install_dir(source: Path, actor: str) -> str:
    """Zip the folder into a temporary package and install it like any upload; returns the slug."""
    from .installer import install_folder

    manifest = modules.read_manifest(Path(source))
    if db.session.get(Module, manifest.slug) is not None:
        raise Conflict(_l("A module named “%(slug)s” is already installed.", slug=manifest.slug))
    return install_folder(Path(source), actor, source_name="folder").slug
