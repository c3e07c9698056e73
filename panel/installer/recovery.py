"""Crash recovery at start: called once from `create_app`, never stops the panel from starting."""

import logging

from .pipeline import recover_interrupted

log = logging.getLogger(__name__)


def recover_at_start(app) -> None:
    """Undo or finish journaled work a crash interrupted; skipped on a database not migrated yet."""
    try:
        with app.app_context():
            from ..extensions import db

            try:
                result = recover_interrupted()
            finally:
                db.session.remove()
        if result.get("undone") or result.get("finished"):
            log.warning("install recovery: undid %s, finished %s", result["undone"], result["finished"])
    except Exception:  # noqa: BLE001 — recovery must never keep the panel from starting
        log.exception("install recovery at start failed; the panel starts anyway")
