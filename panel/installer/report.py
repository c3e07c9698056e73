"""The validation report shown before anything is installed, and the current-vs-uploaded table."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l

from ..extensions import db
from ..models import Module
from ..services.dependencies import Requirement, requirements, unmet
from ..services import licenses
from ..services.locks import busy_message, is_locked
from ..versions import CORE_VERSION, compare, core_compatible
from . import archive
from .checks import requirement_problems


@dataclass
class InstalledSide:
    name: str
    version: str
    author: str
    files: int
    requires_core: str
    requires: dict[str, str]
    state: str


@dataclass
class PackageReport:
    slug: str
    name: str
    version: str
    author: str
    description: str
    category: str
    homepage: str
    docs_url: str
    files: int
    unpacked_bytes: int
    package_bytes: int
    sha256: str
    signed: bool
    requires_core: str
    core_version: str
    core_ok: bool
    requires: list[Requirement]
    missing: list[str]
    top_folder: str
    file_names: list[str]
    current: InstalledSide | None = None
    comparison: str = "new"  # new | update | same | downgrade
    problems: list[str] = field(default_factory=list)

    @property
    def can_install(self) -> bool:
        return not self.problems

    @property
    def requires_text(self) -> dict[str, str]:
        return {r.slug: r.spec for r in self.requires}


def count_files(folder: Path) -> int:
    total = 0
    for _, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        total += sum(1 for f in filenames if not f.endswith(".pyc"))
    return total


def build(info: archive.ArchiveInfo, signed: bool = False) -> PackageReport:
    manifest = info.manifest
    report = PackageReport(
        slug=manifest.slug, name=manifest.name, version=manifest.version_str, author=manifest.author,
        description=manifest.description, category=manifest.category, homepage=manifest.homepage,
        docs_url=manifest.docs_url, files=info.files, unpacked_bytes=info.unpacked_bytes,
        package_bytes=info.package_bytes, sha256=info.sha256, signed=signed,
        requires_core=str(manifest.requires_core), core_version=CORE_VERSION,
        core_ok=core_compatible(manifest.requires_core), requires=requirements(manifest),
        missing=[requirement.text for requirement in unmet(manifest)], top_folder=info.top_folder,
        file_names=info.file_names[:200],
    )
    existing = db.session.get(Module, manifest.slug)
    if existing is not None:
        stored = existing.manifest or {}
        report.current = InstalledSide(
            name=existing.name, version=existing.version, author=existing.author,
            files=count_files(Path(current_app.config["MODULES_PATH"]) / existing.slug),
            requires_core=str(stored.get("requires_core") or ""),
            requires={str(k): str(v) for k, v in (stored.get("requires") or {}).items()}, state=existing.state,
        )
        report.comparison = compare(existing.version, manifest.version_str)
    report.problems = [str(p) for p in requirement_problems(manifest)]
    refusal = licenses.install_refusal(manifest.slug, manifest.version_str)  # a paid slug needs the license
    if refusal:
        report.problems.append(refusal)
    if is_locked(manifest.slug):
        report.problems.append(str(busy_message(manifest.slug)))
    return report


def inspect_package(zip_path: Path, sha256: str | None = None) -> PackageReport:
    """Validate a package without installing anything; raises PackageError with one sentence. Its
    sha256 is hashed in the same read, unless `sha256` gives it (a package checked once already)."""
    info = archive.inspect(Path(zip_path), archive.Limits.from_config(current_app.config), sha256=sha256)
    return build(info)


def comparison_rows(report: PackageReport) -> list[dict]:
    """Current vs uploaded, one row per fact, with `differs` to highlight changes."""
    current = report.current
    if current is None:
        return []

    def requirements(core: str, requires: dict[str, str]) -> str:
        parts = [f"core {core}"] if core else []
        parts += [f"{k} {v}".strip() for k, v in sorted(requires.items())]
        return ", ".join(parts) or "—"

    rows = [
        (_l("Version"), current.version, report.version),
        (_l("Name"), current.name, report.name),
        (_l("Author"), current.author or "—", report.author or "—"),
        (_l("Files"), str(current.files), str(report.files)),
        (_l("Requirements"), requirements(current.requires_core, current.requires),
         requirements(report.requires_core, report.requires_text)),
    ]
    return [{"label": label, "current": a, "uploaded": b, "differs": a != b} for label, a, b in rows]
