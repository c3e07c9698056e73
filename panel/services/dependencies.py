"""Dependencies between modules: the one meaning of "satisfied", used everywhere.

A requirement `other <spec>` from a module's `requires` is **satisfied** when the module `other`
is installed AND enabled AND its installed version matches the specifier by the rule of
`panel.versions.matches` (PEP 440: a pre-release only when the specifier names one; an empty
specifier accepts any version). Enabling a module, installing or updating one, and the upload
report all ask `unmet(manifest)`. The other direction, `dependants(slug)`, is the enabled modules
whose manifest requires `slug`: they keep it from being disabled, uninstalled or replaced by a
version they do not accept (`broken_by`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, select

from ..extensions import db
from ..manifest import Manifest
from ..models import Module
from ..versions import matches

_ENABLED_OTHERS = select(Module.slug, Module.name, Module.manifest["requires"].label("requires")).where(
    Module.state == "enabled", Module.slug != bindparam("target"))


@dataclass(frozen=True)
class Requirement:
    slug: str
    spec: str
    installed: str | None  # the installed version; None when the module is not installed
    enabled: bool

    @property
    def version_fits(self) -> bool:
        return self.installed is not None and matches(self.installed, self.spec)

    @property
    def ok(self) -> bool:
        return self.enabled and self.version_fits

    @property
    def text(self) -> str:
        return f"{self.slug}{self.spec}"


def requirements(manifest: Manifest) -> list[Requirement]:
    """Each module the manifest requires, with what is installed of it."""
    rows = []
    for other, spec in manifest.requires.items():
        module = db.session.get(Module, other)
        rows.append(Requirement(other, str(spec), module.version if module else None,
                                module is not None and module.state == "enabled"))
    return rows


def unmet(manifest: Manifest) -> list[Requirement]:
    """The requirements of a manifest that are not satisfied (see the module docstring)."""
    return [requirement for requirement in requirements(manifest) if not requirement.ok]


def dependants(slug: str) -> list:
    """Enabled modules whose manifest requires this one (rows: slug, name, requires)."""
    enabled = db.session.connection().execute(_ENABLED_OTHERS, {"target": slug})
    return [m for m in enabled if isinstance(m.requires, dict) and slug in m.requires]


def broken_by(manifest: Manifest) -> list[str]:
    """Enabled dependants whose requirement the manifest's version would no longer satisfy."""
    return [f"{other.name} ({manifest.slug}{other.requires.get(manifest.slug) or ''})"
            for other in dependants(manifest.slug)
            if not matches(manifest.version, other.requires.get(manifest.slug) or "")]
