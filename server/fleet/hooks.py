"""Run work after a session's transaction commits (publishing to MQTT, rewriting broker files).

Messages and files describe committed state only: a kiosk must never receive a list delta or an
ack for a transaction that then rolled back. Callbacks registered here run once, after the
next successful commit of that session, and are dropped on rollback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

_KEY = "fleet_after_commit"
_LISTENING = "fleet_after_commit_listening"


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Call ``callback`` after ``session`` next commits (not at all if it rolls back)."""
    if not session.info.get(_LISTENING):
        # Listeners stay for the session's life (removing them while SQLAlchemy dispatches
        # the event is not allowed); they only act on what is pending.
        event.listen(session, "after_commit", _run_pending)
        event.listen(session, "after_rollback", _drop_pending)
        session.info[_LISTENING] = True
    pending: list[Callable[[], None]] = session.info.setdefault(_KEY, [])
    if callback not in pending:
        pending.append(callback)


def _run_pending(session: Session) -> None:
    pending: list[Callable[[], None]] = session.info.pop(_KEY, [])
    for callback in pending:
        try:
            callback()
        except Exception:
            log.exception("after-commit callback failed")


def _drop_pending(session: Session) -> None:
    session.info.pop(_KEY, None)
