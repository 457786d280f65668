"""Refuses any UPDATE or DELETE of check-in log rows, through the ORM or ORM-enabled
``update()``/``delete()`` statements: the log is append-only."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Mapper, ORMExecuteState, Session

from server.checkin.models import CheckinRecord


class AppendOnlyViolation(RuntimeError):
    """Code tried to change or remove a check-in record."""


def _refuse_row_change(_mapper: Mapper[Any], _connection: Any, target: CheckinRecord) -> None:
    raise AppendOnlyViolation(f"check-in record {target.id} is append-only")


def _refuse_bulk_change(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete):
        return
    mapper = state.bind_mapper
    if mapper is not None and mapper.class_ is CheckinRecord:
        raise AppendOnlyViolation("check-in records are append-only")


def install() -> None:
    """Attach the listeners (idempotent)."""
    if not event.contains(CheckinRecord, "before_update", _refuse_row_change):
        event.listen(CheckinRecord, "before_update", _refuse_row_change)
        event.listen(CheckinRecord, "before_delete", _refuse_row_change)
    if not event.contains(Session, "do_orm_execute", _refuse_bulk_change):
        event.listen(Session, "do_orm_execute", _refuse_bulk_change)


install()
