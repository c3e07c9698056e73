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
from typing import NamedTuple

from sqlalchemy import JSON, bindparam, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import NullType

from ..extensions import db
from ..manifest import Manifest
from ..models import Module
from ..runtime import plain_rows
from ..versions import matches


class names_requirements(FunctionElement):
    """True when a module's manifest (the argument) requires other modules: the predicate of the
    partial index `ix_modules_requiring` (migration 0009), written exactly as the index has it so
    the database finds the few modules that require others without decoding every manifest (at
    20,000 modules, half enabled, a disable read 10,000 manifests: 9 ms against 0.01)."""

    type = NullType()  # an SQL condition as written, without SQLite's "= 1" for a Boolean
    name = "names_requirements"
    inherit_cache = True


@compiles(names_requirements, "sqlite")
def _names_requirements_sqlite(element, compiler, **kw):
    column = compiler.process(element.clauses, **kw)
    return f"(json_extract({column}, '$.requires') IS NOT NULL AND json_extract({column}, '$.requires') <> '{{}}')"


@compiles(names_requirements, "postgresql")
def _names_requirements_postgresql(element, compiler, **kw):
    column = compiler.process(element.clauses, **kw)
    return f"(({column} ->> 'requires') IS NOT NULL AND ({column} ->> 'requires') <> '{{}}')"


def _enabled_others(table) -> tuple:
    """Which modules may need the module `target`: the enabled ones but itself that require any."""
    return table.c.state == "enabled", names_requirements(table.c.manifest), table.c.slug != bindparam("target")


_MODULES = Module.__table__
_ENABLED_OTHERS = select(_MODULES.c.slug, _MODULES.c.name, _MODULES.c.manifest["requires"].label("requires")).where(
    *_enabled_others(_MODULES))
_OTHERS = _MODULES.alias("enabled_others")
# The same modules as one JSON value, a column a statement about `target` reads along (a disable's
# locking read): one statement less. PostgreSQL only; on SQLite a statement costs no round trip.
ENABLED_OTHERS_JSON = select(func.json_agg(func.json_build_array(
    _OTHERS.c.slug, _OTHERS.c.name, _OTHERS.c.manifest["requires"]), type_=JSON)).where(
    *_enabled_others(_OTHERS)).scalar_subquery().label("enabled_others")


class EnabledModule(NamedTuple):
    slug: str
    name: str
    requires: object


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


def dependants(slug: str, enabled_others: list | None = None) -> list:
    """Enabled modules whose manifest requires this one (rows: slug, name, requires); from
    `enabled_others`, what `ENABLED_OTHERS_JSON` read for `slug` (None: read them now)."""
    if enabled_others is None:
        enabled = plain_rows.rows(_ENABLED_OTHERS, {"target": slug})
    else:
        enabled = [EnabledModule(*row) for row in enabled_others]
    return [m for m in enabled if isinstance(m.requires, dict) and slug in m.requires]


def broken_by(manifest: Manifest) -> list[str]:
    """Enabled dependants whose requirement the manifest's version would no longer satisfy."""
    return [f"{other.name} ({manifest.slug}{other.requires.get(manifest.slug) or ''})"
            for other in dependants(manifest.slug)
            if not matches(manifest.version, other.requires.get(manifest.slug) or "")]
