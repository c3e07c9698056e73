"""The audit trail: who did what to which module, and when."""

from sqlalchemy import insert, select

from ..extensions import db
from ..models import AuditEvent, PanelState, utcnow
from ..runtime import writes


_INSERT = insert(AuditEvent)
# A module switch's entry names the generation it moves the counter to (services.sidebar catches up
# by them): the counter read in the same transaction plus one, before the move itself, which every
# caller makes after recording. Two switches raced on PostgreSQL can both name one generation (each
# statement reads its own snapshot); the sidebar then finds a generation named twice and one
# named by none, and reads every entry instead.
_INSERT_SWITCH = insert(AuditEvent).values(
    generation=select(PanelState.value + 1).where(PanelState.key == "generation").scalar_subquery())


def record(actor: str, action: str, slug: str | None = None, detail: str = "") -> None:
    """Add an event to the caller's transaction (committed with the change it describes).
    Written at once (or with the other writes of the `writes.together()` block it is in), not at
    the next flush: a toggle then flushes no object at all."""
    writes.execute(_INSERT, _event(actor, action, slug, detail))


def record_switch(actor: str, action: str, slug: str, detail: str = "") -> None:
    """`record` for a module switched on, off or to failed, in the transaction that then moves the
    `generation` counter (`runtime.registry.bump_generation`): the entry names the generation."""
    writes.execute(_INSERT_SWITCH, _event(actor, action, slug, detail))


def _event(actor: str, action: str, slug: str | None, detail: str) -> dict:
    return {"at": utcnow(), "actor": actor or "system", "action": action, "slug": slug, "detail": detail[:2000]}


def recent(limit: int = 15) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)))
