"""Updates that tell the truth: what is offered, held, skipped or out of reach, and applying them.

Per installed module the catalog may hold a newer version this panel can run (offered, unless the
module is held at its version or that exact version was skipped) and a newer one it cannot (shown
with the reason). `apply` installs one update through the marketplace job, whose health check (`installer.health`)
rolls a failing version back. `update_all` applies every offered
update, one failure never stopping the others, and answers what happened to each.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..extensions import db
from ..models import UpdatePolicy
from ..services import audit
from ..services import modules as modules_service
from ..versions import CORE_VERSION, core_compatible, newer, parse
from . import catalog
from . import jobs as install_jobs

UPDATED, ROLLED_BACK, FAILED, SKIPPED = "updated", "rolled_back", "failed", "skipped"


# --- policy ---------------------------------------------------------------------------------------

def policy(slug: str) -> UpdatePolicy:
    """The module's update policy (a default one, not stored, when none was set)."""
    return db.session.get(UpdatePolicy, slug) or UpdatePolicy(slug=slug, pinned=False, skipped_version=None,
                                                               auto_update=False)


def policies() -> dict[str, UpdatePolicy]:
    return {p.slug: p for p in db.session.scalars(select(UpdatePolicy))}


def set_policy(slug: str, actor: str, **changes) -> UpdatePolicy:
    """Change `pinned`, `skipped_version` or `auto_update` of an installed module, with an audit event."""
    modules_service.get(slug)  # NotFound for a module that is not installed
    row = db.session.get(UpdatePolicy, slug)
    if row is None:
        row = UpdatePolicy(slug=slug, pinned=False, skipped_version=None, auto_update=False)
        db.session.add(row)
    for key, value in changes.items():
        setattr(row, key, value)
    audit.record(actor, "update_policy_changed", slug,
                 ", ".join(f"{key}={value}" for key, value in sorted(changes.items()))[:200])
    db.session.commit()
    return row


# --- what is offered ------------------------------------------------------------------------------

@dataclass
class Offer:
    slug: str
    name: str
    installed: str
    version: str | None  # the newest version this panel can run, newer than the installed one
    between: list[str]  # every version after the installed one up to `version`, oldest first
    blocked: str | None = None  # a newer version this panel cannot run …
    blocked_reason: str = ""  # … and why
    held: str = ""  # "pinned" | "skipped" when `version` is not offered because of the policy
    auto_update: bool = False

    @property
    def offered(self) -> bool:
        return self.version is not None and not self.held


def offers(cat=None, installed: dict | None = None) -> list[Offer]:
    """Every installed module the catalog has something newer for, by name."""
    cat = catalog.Entries(cat)
    installed = installed if installed is not None else catalog.installed_versions()
    kept = policies()
    rows = []
    for slug, current in installed.items():
        item = cat.get(slug)
        if item is None:
            continue
        newer_ones = [r for r in item["versions"] if newer(r["version"], current)]
        if not newer_ones:
            continue
        runnable = [r for r in newer_ones if core_compatible(r["requires_core"])]
        version = runnable[-1]["version"] if runnable else None
        blocked = next((r for r in reversed(newer_ones) if not core_compatible(r["requires_core"])
                        and (version is None or newer(r["version"], version))), None)
        rule = kept.get(slug)
        held = ""
        if version and rule is not None and rule.pinned:
            held = "pinned"
        elif version and rule is not None and rule.skipped_version == version:
            held = "skipped"
        rows.append(Offer(
            slug, item["name"], current, version,
            [r["version"] for r in newer_ones if version and not newer(r["version"], version)],
            blocked["version"] if blocked else None,
            str(_l("%(version)s needs panel %(spec)s", version=blocked["version"], spec=blocked["requires_core"]))
            if blocked else "", held, bool(rule and rule.auto_update)))
    return sorted(rows, key=lambda r: r.name.lower())


# --- applying -------------------------------------------------------------------------------------

@dataclass
class Outcome:
    slug: str
    name: str
    result: str  # updated | rolled_back | failed | skipped
    installed: str
    version: str | None
    reason: str = ""


def apply(offer: Offer, actor: str, echo=None) -> Outcome:
    """Install the offered version, then check its health; a failing one is rolled back."""
    try:
        claim = install_jobs.create_install(offer.slug, offer.version, actor)
    except Exception as exc:  # noqa: BLE001 — PanelError and its kin: one sentence for the summary
        return Outcome(offer.slug, offer.name, FAILED, offer.installed, offer.version, str(exc))
    if not claim.created:
        return Outcome(offer.slug, offer.name, FAILED, offer.installed, offer.version,
                       str(install_jobs.already_running(claim.job)))
    job = install_jobs.run_install(claim.job.id, echo=echo)  # health-checked there: a failing version is rolled back
    rolled_back = (job.params or {}).get("rolled_back")
    if rolled_back:
        return Outcome(offer.slug, offer.name, ROLLED_BACK, offer.installed, offer.version, rolled_back)
    if job.state != "done":
        return Outcome(offer.slug, offer.name, FAILED, offer.installed, offer.version, job.message)
    return Outcome(offer.slug, offer.name, UPDATED, offer.installed, offer.version)


def _skip_reason(offer: Offer) -> str:
    if offer.held == "pinned":
        return str(_l("held at version %(version)s", version=offer.installed))
    if offer.held == "skipped":
        return str(_l("version %(version)s is skipped", version=offer.version))
    return offer.blocked_reason or str(_l("no version works with this panel (version %(core)s)", core=CORE_VERSION))


def update_all(actor: str, echo=None, only=None) -> list[Outcome]:
    """Apply every offered update (or those `only` allows); what happened to each module."""
    outcomes = []
    for offer in offers():
        if only is not None and not only(offer):
            continue
        if not offer.offered:
            outcomes.append(Outcome(offer.slug, offer.name, SKIPPED, offer.installed, offer.version or offer.blocked,
                                    _skip_reason(offer)))
            continue
        outcomes.append(apply(offer, actor, echo))
    return outcomes


def same_major(offer: Offer) -> bool:
    old, new = parse(offer.installed), parse(offer.version)
    return old is not None and new is not None and old.major == new.major


def auto_update(actor: str = "auto-update") -> list[Outcome]:
    """After a catalog refresh: the opted-in modules' offered updates within their major version."""
    if not db.session.scalar(select(UpdatePolicy.slug).where(UpdatePolicy.auto_update.is_(True)).limit(1)):
        return []
    return update_all(actor, only=lambda offer: offer.auto_update and offer.offered and same_major(offer))


catalog.AFTER_REFRESH.append(auto_update)

