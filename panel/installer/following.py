"""Each node keeps its modules folder in step with the packages kept in the database.

A module installed, updated, rolled back or uninstalled on one node moves the shared generation
counter. Before any request, a worker that sees a new generation compares, module by module, the
version and sha256 the database wants with what this node has on disk (a marker per module in
`instance/materialised/`), and puts the package there — verified against its sha256 and unpacked
through the installer's safe extraction — or removes the code of a module uninstalled elsewhere.
Workers of one node take turns (a file lock); a node that joins later catches up the same way.
"""

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import uuid
from pathlib import Path

from flask import current_app

from ..runtime import bytecode
from ..runtime.registry import current_code_generation
from ..services import packages
from ..services.locks import is_locked
from . import archive, backfill
from .transaction import paths

log = logging.getLogger(__name__)


def _markers() -> Path:
    folder = Path(current_app.instance_path) / "materialised"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def mark(slug: str, version: str, sha256: str) -> None:
    """Record that this node's modules folder holds this package of the module."""
    marker = _markers() / f"{slug}.json"
    temporary = marker.with_suffix(f".{uuid.uuid4().hex[:8]}.tmp")
    temporary.write_text(json.dumps({"version": version, "sha256": sha256}))
    os.replace(temporary, marker)


def _marked(slug: str) -> dict | None:
    try:
        return json.loads((_markers() / f"{slug}.json").read_text())
    except (FileNotFoundError, ValueError):
        return None


def _on_disk_version(folder: Path) -> str | None:
    try:
        return json.loads((folder / "module.json").read_text(encoding="utf-8")).get("version")
    except (FileNotFoundError, ValueError, AttributeError):
        return None


def materialise(slug: str, version: str, sha256: str) -> None:
    """Put the kept package of `slug` `version` in the modules folder, replacing what is there."""
    found = packages.package_bytes(slug, version)
    if found is None:
        return
    data, _ = found
    if hashlib.sha256(data).hexdigest() != sha256:
        log.error("the kept package of %s %s does not match its sha256; not unpacked", slug, version)
        return
    where = paths()
    work = where["staging"] / f"{slug}.follow-{uuid.uuid4().hex[:8]}"
    work.mkdir(mode=0o700, parents=True)
    try:
        archive.extract(data, work / "pkg", archive.Limits.from_config(current_app.config))  # from memory
        live, old = where["modules"] / slug, work / "old"
        bytecode.precompile(work / "pkg", lands_at=live)
        if live.exists():
            os.replace(live, old)
        os.replace(work / "pkg", live)
        mark(slug, version, sha256)
        log.info("module %s %s unpacked from the database on this node", slug, version)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _remove(slug: str) -> None:
    live = paths()["modules"] / slug
    if live.exists():
        trash = paths()["staging"] / f"{slug}.gone-{uuid.uuid4().hex[:8]}"
        os.replace(live, trash)
        shutil.rmtree(trash, ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
        (_markers() / f"{slug}.json").unlink()


def catch_up() -> None:
    """Make this node's modules folder hold what the database says is installed."""
    for slug, version, sha256 in backfill.store_missing():  # installed before packages were kept
        mark(slug, version, sha256)
    wanted = packages.wanted()
    for slug, (version, sha256) in wanted.items():
        if is_locked(slug):  # this node's own installer is changing it right now
            continue
        marked = _marked(slug)
        if marked == {"version": version, "sha256": sha256}:
            continue
        if marked is None and _on_disk_version(paths()["modules"] / slug) == version:
            mark(slug, version, sha256)  # installed here before packages were kept
            continue
        materialise(slug, version, sha256)
    installed = packages.installed_slugs()
    for marker in _markers().glob("*.json"):
        slug = marker.stem
        if slug not in installed and not is_locked(slug):
            _remove(slug)


class PackageFollower:
    """Per process: catch up before a request whenever module code moved since the last time."""

    def __init__(self):
        self.generation: int | None = None

    def before_request(self) -> None:
        generation = current_code_generation()
        if generation == self.generation:
            return
        lock_file = _markers() / ".lock"
        with open(lock_file, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)  # one worker of this node at a time
            try:
                catch_up()
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        self.generation = generation
