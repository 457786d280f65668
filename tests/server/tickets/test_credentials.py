"""Claims and validity windows of tickets."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from protocol.credential import ADMIT_EPOCH
from server.tickets.credentials import is_within_window, ticket_claims, validity_window

MOMENTS = st.datetimes(
    min_value=datetime(2024, 1, 2), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
)


def _claims(valid_from: datetime | None, valid_until: datetime | None) -> tuple[int, int]:
    claims = ticket_claims(
        ticket_id=1,
        event_id=2,
        ticket_type_id=3,
        valid_from=valid_from,
        valid_until=valid_until,
        entries_allowed=1,
        key_id=1,
    )
    return claims.valid_from, claims.valid_until


@given(MOMENTS)
def test_the_window_is_widened_to_whole_minutes_never_narrowed(moment: datetime) -> None:
    start, end = _claims(moment, moment + timedelta(seconds=1))
    assert start % 60 == 0 and end % 60 == 0
    assert start <= moment.timestamp() < end


def test_open_window_is_zero_and_pre_epoch_start_is_dropped() -> None:
    assert _claims(None, None) == (0, 0)
    before_epoch = datetime.fromtimestamp(ADMIT_EPOCH - 3600, UTC)
    assert _claims(before_epoch, None) == (0, 0)


def test_claims_name_the_ticket_type_as_zone() -> None:
    claims = ticket_claims(
        ticket_id=5,
        event_id=6,
        ticket_type_id=9,
        valid_from=None,
        valid_until=None,
        entries_allowed=2,
        key_id=4,
    )
    assert (claims.ticket_id, claims.event_id, claims.zone) == (5, 6, 9)
    assert (claims.entries, claims.key_id) == (2, 4)


def test_a_visit_date_narrows_the_window_to_that_day_in_the_site_zone() -> None:
    start, end = validity_window(None, None, date(2025, 5, 1), "Asia/Shanghai")
    assert start == datetime(2025, 4, 30, 16, 0, tzinfo=UTC)
    assert end == datetime(2025, 5, 1, 16, 0, tzinfo=UTC)
    type_end = datetime(2025, 5, 1, 10, 0, tzinfo=UTC)
    assert validity_window(None, type_end, date(2025, 5, 1), "Asia/Shanghai")[1] == type_end


def test_the_window_is_half_open() -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    end = start + timedelta(hours=1)
    assert is_within_window(start, end, start)
    assert not is_within_window(start, end, end)
    assert not is_within_window(start, end, start - timedelta(seconds=1))
    assert is_within_window(None, None, start)
