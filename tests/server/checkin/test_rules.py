"""The pure entry and exit rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from protocol import reasons
from server.checkin.rules import TicketFacts, entry_refusal, exit_refusal
from server.tickets.models import TicketStatus

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
OFFSETS = st.none() | st.integers(min_value=-3600, max_value=3600).map(
    lambda seconds: NOW + timedelta(seconds=seconds)
)
FACTS = st.builds(
    TicketFacts,
    event_id=st.integers(1, 3),
    status=st.sampled_from(TicketStatus),
    valid_from=OFFSETS,
    valid_until=OFFSETS,
    entries_allowed=st.integers(0, 3),
    entries_in_use=st.integers(0, 4),
)


@given(FACTS, st.none() | st.integers(1, 3), st.none() | st.frozensets(st.integers(1, 3)))
def test_an_entry_is_allowed_exactly_when_every_condition_holds(
    facts: TicketFacts, event_id: int | None, allowed: frozenset[int] | None
) -> None:
    refusal = entry_refusal(facts, NOW, event_id=event_id, allowed_events=allowed)
    may_enter = (
        facts.status is TicketStatus.VALID
        and (event_id is None or facts.event_id == event_id)
        and (allowed is None or facts.event_id in allowed)
        and (facts.valid_from is None or facts.valid_from <= NOW)
        and (facts.valid_until is None or facts.valid_until > NOW)
        and (facts.entries_allowed == 0 or facts.entries_in_use < facts.entries_allowed)
    )
    assert (refusal is None) == may_enter
    assert refusal is None or refusal in reasons.ALL_REASONS


def _facts(**changes: object) -> TicketFacts:
    values: dict[str, object] = {
        "event_id": 1,
        "status": TicketStatus.VALID,
        "valid_from": None,
        "valid_until": None,
        "entries_allowed": 1,
        "entries_in_use": 0,
    }
    values.update(changes)
    return TicketFacts(**values)  # type: ignore[arg-type]


def test_revocation_is_reported_before_anything_else() -> None:
    facts = _facts(status=TicketStatus.REVOKED, entries_in_use=1, valid_until=NOW)
    assert entry_refusal(facts, NOW, event_id=2) == reasons.REVOKED


def test_each_reason() -> None:
    assert entry_refusal(_facts(event_id=2), NOW, event_id=1) == reasons.WRONG_EVENT
    assert entry_refusal(_facts(), NOW, allowed_events=frozenset({5})) == reasons.WRONG_EVENT
    later = NOW + timedelta(minutes=1)
    assert entry_refusal(_facts(valid_from=later), NOW) == reasons.NOT_YET_VALID
    assert entry_refusal(_facts(valid_until=NOW), NOW) == reasons.EXPIRED
    assert entry_refusal(_facts(entries_in_use=1), NOW) == reasons.ALREADY_USED
    assert entry_refusal(_facts(entries_allowed=0, entries_in_use=99), NOW) is None


def test_exits_ignore_entries_and_windows_but_not_the_event() -> None:
    used_up = _facts(entries_in_use=1, valid_until=NOW)
    assert exit_refusal(used_up) is None
    assert exit_refusal(used_up, event_id=2) == reasons.WRONG_EVENT
