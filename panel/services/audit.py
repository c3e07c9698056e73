"""The audit trail: who did what to which module, and when."""

from sqlalchemy import bindparam, insert, select

from ..extensions import db
from ..models import AuditEvent, Module, PanelState, utcnow
from ..runtime import writes


_INSERT = insert(AuditEvent)
# A module switch's entry names the generation it moves the counter to (services.sidebar catches up
# by them): the counter read in the same transaction plus one, before the move itself, which every
# caller makes after recording. Two switches raced on PostgreSQL can both name one generation (each
# statement reads its own snapshot); the sidebar then finds a generation named twice and one
# named by none, and reads every entry instead. It also names the state the module was in, read by
# the same statement before the switch writes the module's row, which every caller does after
# recording too (services.module_counts catches up by them): on SQLite a toggle's read of the row
# takes no lock, so the state it read may be another toggle's since; this one is read under the write
# lock. On PostgreSQL every write of a toggle is one statement on one snapshot, under the row's lock.
_INSERT_SWITCH = insert(AuditEvent).values(
    generation=select(PanelState.value + 1).where(PanelState.key == "generation").scalar_subquery(),
    from_state=select(Module.state).where(Module.slug == bindparam("switched")).scalar_subquery(),
).returning(AuditEvent.from_state)


def record(actor: str, action: str, slug: str | None = None, detail: str = "") -> None:
    """Add an event to the caller's transaction (committed with the change it describes).
    Written at once (or with the other writes of the `writes.together()` block it is in), not at
    the next flush: a toggle then flushes no object at all."""
    writes.execute(_INSERT, _event(actor, action, slug, detail))


class Switch:
    """A switch's audit entry, once written (at the end of the `writes.together()` block it is in):
    `from_state`, the state it found the module in (None before, or when the module's row is gone)."""

    __slots__ = ("from_state",)

    def __init__(self):
        self.from_state: str | None = None

    def _written(self, from_state: str | None) -> None:
        self.from_state = from_state


def record_switch(actor: str, action: str, slug: str, detail: str = "") -> Switch:
    """`record` for a module switched on, off or to failed, in the transaction that then writes the
    module's row and moves the `generation` counter (`runtime.registry.bump_generation`), both after
    this call: the entry names the generation, and the state the module was in."""
    switch = Switch()
    writes.execute(_INSERT_SWITCH, {**_event(actor, action, slug, detail), "switched": slug}, then=switch._written)
    return switch


def _event(actor: str, action: str, slug: str | None, detail: str) -> dict:
    return {"at": utcnow(), "actor": actor or "system", "action": action, "slug": slug, "detail": detail[:2000]}


def recent(limit: int = 15) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)))
