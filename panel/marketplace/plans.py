"""Install plans: which modules to install, update or enable, in which order, before a module can run.

Pure: no database, no network, no Flask. `resolve` takes the catalog's entries, what is installed
and the panel's version, follows `requires` transitively and answers a `Plan` — its steps in
dependency order (a module always after what it needs) — or the reasons it cannot be done:

- ``missing``: a required module is not in the store;
- ``conflict``: modules need versions of one module that no single version satisfies;
- ``cycle``: modules that require each other in a loop;
- ``core``: the only versions that would do need a newer panel.

A requirement counts as met by the rule of `panel.services.dependencies`: the other module
installed, ENABLED and in a matching version (`panel.versions.matches`). So a plan installs AND
enables what is needed. The catalog states `requires` per module (its newest version); a release
may state its own, which then wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..versions import matches, newer, sort_key

INSTALL, UPDATE, ENABLE = "install", "update", "enable"


@dataclass(frozen=True)
class Installed:
    """An installed module as the resolver sees it."""

    version: str
    enabled: bool
    requires: dict = field(default_factory=dict)
    name: str = ""


@dataclass(frozen=True)
class Step:
    action: str  # install | update | enable
    slug: str
    name: str
    version: str
    size: int = 0
    installed: str | None = None  # the version installed now (update, enable)
    enable: bool = True  # whether the step ends with the module enabled


@dataclass(frozen=True)
class Problem:
    kind: str  # missing | conflict | cycle | core
    slug: str
    detail: dict = field(default_factory=dict)


@dataclass
class Plan:
    target: str
    steps: list[Step] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def size(self) -> int:
        return sum(step.size for step in self.steps)

    @property
    def slugs(self) -> list[str]:
        return [step.slug for step in self.steps]


def _release_requires(entry: dict, release: dict | None) -> dict:
    if release is not None and isinstance(release.get("requires"), dict):
        return release["requires"]
    return entry.get("requires") or {}


def newest_release(entry: dict, specs, core: str, core_ok) -> tuple[dict | None, str | None]:
    """The newest release matching every spec and this panel; else (None, why): "conflict" when no
    release matches every spec, "core" when the matching ones all need a newer panel."""
    releases = sorted(entry.get("versions") or [], key=lambda r: sort_key(r["version"]), reverse=True)
    fitting = [r for r in releases if all(matches(r["version"], spec) for spec in specs)]
    if not fitting:
        return None, "conflict"
    runnable = [r for r in fitting if core_ok(r.get("requires_core") or "")]
    return (runnable[0], None) if runnable else (None, "core")


class _Resolver:
    def __init__(self, catalog: dict, installed: dict, core: str, core_ok):
        self.catalog, self.installed, self.core, self.core_ok = catalog, installed, core, core_ok

    def run(self, target: str, version: str | None, enable_target: bool) -> Plan:
        plan = Plan(target)
        changing: set[str] = {target}  # modules the plan installs or updates (their catalog requires count)
        # Each pass may find another installed module that must be updated, which can change the
        # graph; at most one pass per module in the catalog, plus one.
        for _ in range(len(self.catalog) + 2):
            plan = self._pass(target, version, enable_target, changing)
            grown = {s.slug for s in plan.steps if s.action in (INSTALL, UPDATE)} - changing
            if not grown or not plan.ok:
                return plan
            changing |= grown
        return plan

    def _edges(self, slug: str, changing: set[str], chosen: dict) -> dict:
        mine = self.installed.get(slug)
        if mine is not None and slug not in changing:
            return mine.requires or {}
        entry = self.catalog.get(slug)
        if entry is None:
            return mine.requires or {} if mine is not None else {}
        return _release_requires(entry, chosen.get(slug))

    def _pass(self, target, version, enable_target, changing) -> Plan:
        plan = Plan(target)
        order: list[str] = []
        constraints: dict[str, list[tuple[str, str]]] = {}
        state: dict[str, str] = {}  # visiting | done

        def visit(slug: str, path: list[str]) -> None:
            if state.get(slug) == "done":
                return
            if state.get(slug) == "visiting":
                loop = path[path.index(slug):] + [slug]
                plan.problems.append(Problem("cycle", slug, {"path": [self._name(s) for s in loop]}))
                return
            state[slug] = "visiting"
            for other, spec in sorted(self._edges(slug, changing, {}).items()):
                constraints.setdefault(other, []).append((str(spec or ""), self._name(slug)))
                visit(other, path + [slug])
            state[slug] = "done"
            order.append(slug)

        visit(target, [])
        if plan.problems:
            return plan
        # Installed modules outside the plan keep needing what they need.
        for slug, mine in self.installed.items():
            if slug in state or not mine.enabled:
                continue
            for other, spec in (mine.requires or {}).items():
                if other in state:
                    constraints.setdefault(other, []).append((str(spec or ""), mine.name or slug))
        for slug in order:
            step = self._step(slug, constraints.get(slug, []), plan, changing,
                              explicit=version if slug == target else None,
                              enable=enable_target if slug == target else True)
            if step is not None:
                plan.steps.append(step)
        return plan

    def _name(self, slug: str) -> str:
        entry, mine = self.catalog.get(slug), self.installed.get(slug)
        return (entry or {}).get("name") or (mine.name if mine else "") or slug

    def _step(self, slug, wanted, plan, changing, explicit, enable) -> Step | None:
        specs = [spec for spec, _ in wanted] + ([f"=={explicit}"] if explicit else [])
        mine = self.installed.get(slug)
        keep = mine is not None and slug not in changing and all(matches(mine.version, s) for s in specs)
        if keep:
            if mine.enabled or not enable:
                return None
            return Step(ENABLE, slug, self._name(slug), mine.version, installed=mine.version)
        entry = self.catalog.get(slug)
        if entry is None:
            if mine is not None and not specs:  # the target, installed and not in the store: nothing to do
                return None
            plan.problems.append(Problem("missing", slug, {"name": self._name(slug), "needed_by": [
                by for _, by in wanted]}))
            return None
        release, why = newest_release(entry, specs, self.core, self.core_ok)
        if release is None:
            detail = {"name": self._name(slug), "wanted": [(spec or "*", by) for spec, by in wanted]}
            if explicit:
                detail["version"] = explicit
            if why == "core":
                fitting = [r for r in entry["versions"] if all(matches(r["version"], s) for s in specs)]
                newest = max(fitting, key=lambda r: sort_key(r["version"]))
                detail.update(version=newest["version"], requires_core=newest.get("requires_core") or "",
                              core=self.core)
            plan.problems.append(Problem(why, slug, detail))
            return None
        if mine is not None and mine.version == release["version"] and slug in changing and not explicit:
            if mine.enabled or not enable:
                return None
            return Step(ENABLE, slug, self._name(slug), mine.version, installed=mine.version)
        action = INSTALL if mine is None else UPDATE
        if mine is not None and not newer(release["version"], mine.version) and not explicit:
            return None
        return Step(action, slug, self._name(slug), release["version"], int(release.get("size") or 0),
                    installed=mine.version if mine else None, enable=enable)


def resolve(target: str, catalog: dict, installed: dict, core: str, core_ok, *, version: str | None = None,
            enable_target: bool = True) -> Plan:
    """The plan that installs `target` (at `version`, else its newest fitting one) with everything it
    needs, enabled. `catalog`: slug -> catalog entry; `installed`: slug -> Installed; `core_ok(spec)`
    says whether this panel satisfies a `requires_core`."""
    return _Resolver(catalog, installed, core, core_ok).run(target, version, enable_target)
