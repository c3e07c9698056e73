"""The audit trail: who did what to which module, and when."""

from sqlalchemy import insert, select

from ..extensions import db
from ..models import AuditEvent, utcnow
from ..runtime import writes


_INSERT = insert(AuditEvent)


def record(actor: str, action: str, slug: str | None = None, detail: str = "") -> None:
    """Add an event to the caller's transaction (committed with the change it describes).
    Written at once (or with the other writes of the `writes.together()` block it is in), not at
    the next flush: a toggle then flushes no object at all."""
    writes.execute(_INSERT, {"at": utcnow(), "actor": actor or "system", "action": action,
                             "slug": slug, "detail": detail[:2000]})


def recent(limit: int = 15) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)))
