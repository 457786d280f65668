"""The check-in log row has three shapes: the ORM model (:class:`CheckinRecord`, reads), the
hot path's plain values (:class:`StoredRecord`, written with one Core INSERT) and the API's
answer (:class:`RecordOut`). They are kept apart on purpose (the API must not change when a
column is added), so this test is what keeps them from drifting."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from server.checkin.models import (
    CheckinMethod,
    CheckinRecord,
    CheckinResult,
    CheckinSource,
    Direction,
    StoredRecord,
)
from server.checkin.schemas import RecordOut

#: Kept out of the API on purpose: the caller's own merchant.
NOT_IN_THE_API = {"merchant_id"}


def _columns() -> set[str]:
    return {column.key for column in CheckinRecord.__table__.columns}


def test_the_hot_paths_stored_record_has_every_column_of_the_log() -> None:
    assert {field.name for field in dataclasses.fields(StoredRecord)} == _columns()


def test_the_api_answer_has_every_column_but_the_merchant() -> None:
    assert set(RecordOut.model_fields) == _columns() - NOT_IN_THE_API


def test_the_api_answer_is_built_alike_from_a_stored_and_a_loaded_record() -> None:
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    stored = StoredRecord(
        id=7,
        merchant_id=1,
        ticket_id=3,
        event_id=2,
        source=CheckinSource.CHECKER,
        method=CheckinMethod.CODE,
        checker_user_id=5,
        gate_id=None,
        device_id="phone-1",
        scan_id="s-1",
        presented="",
        direction=Direction.IN,
        result=CheckinResult.ADMITTED,
        reason="admitted",
        entry_no=1,
        annuls_record_id=None,
        offline=False,
        conflict=False,
        conflict_reason="",
        scanned_at=now,
        received_at=now,
    )
    loaded = CheckinRecord(**dataclasses.asdict(stored))
    assert RecordOut.of(stored) == RecordOut.of(loaded)
    assert RecordOut.of(stored).model_dump()["device_id"] == "phone-1"
    assert "merchant_id" not in RecordOut.of(stored).model_dump()
