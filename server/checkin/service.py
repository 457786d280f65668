"""Check-in rules: every attempt becomes exactly one log row, and no ticket is admitted beyond
its allowance, whoever checks it and however many check at once.

How the allowance holds under concurrency: the pure rules (:mod:`server.checkin.rules`) judge
the loaded ticket first; an admission then *claims* an entry with one conditional
``UPDATE tickets ... WHERE entries_used < entries_allowed RETURNING last_entry_no``
(:func:`server.tickets.repository.claim_entry`). PostgreSQL row-locks the ticket, and a
concurrent claim waits, re-checks the condition against the winner's committed row and matches
nothing; SQLite serialises write transactions with ``BEGIN IMMEDIATE``. A refused claim reloads the
ticket and logs the refusal (``already_used`` or ``revoked``). The admission's log row carries
the claimed ``entry_no``, unique per ticket in the log as a second, independent guard.

Admissions and exits by staff are announced on :data:`server.signals.staff_checked_in`, in the
same transaction; the fleet queues them for the gates (:mod:`server.fleet.staff_admissions`).

Gate scans (seam 3) have their own module, :mod:`server.checkin.gate_scans`, built on the
primitives here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from protocol import codes, reasons
from protocol.reasons import Rejection
from protocol.signing import VerifiedTicket, verify_ticket
from server import signals
from server.accounts import repository as accounts_repo
from server.accounts.models import MerchantRole
from server.checkin import messages as _messages  # noqa: F401  (registers the texts)
from server.checkin import repository as repo
from server.checkin.models import (
    CheckinMethod,
    CheckinRecord,
    CheckinResult,
    CheckinSource,
    Direction,
    LoggedRecord,
    StoredRecord,
)
from server.checkin.rules import TicketFacts, entry_refusal, exit_refusal
from server.errors import Invalid, NotFound
from server.phones import normalize_phone
from server.tickets import keys as ticket_keys
from server.tickets import repository as tickets_repo
from server.tickets.models import Ticket, TicketStatus
from server.tickets.repository import TicketSnapshot
from server.tickets.service import is_usable


@dataclass(frozen=True)
class Actor:
    """Who checks: a checker (app), the back office, or a gate."""

    source: CheckinSource
    checker_user_id: int | None = None
    device_id: str = ""
    gate_id: int | None = None
    #: Events a restricted checker may check; None: every event of the merchant.
    allowed_events: frozenset[int] | None = None


@dataclass(frozen=True)
class Attempt:
    """One check-in attempt's circumstances."""

    method: CheckinMethod
    direction: Direction
    #: When it happened (a gate's or offline app's original time).
    scanned_at: datetime
    #: When the server got it.
    received_at: datetime
    offline: bool = False
    scan_id: str | None = None
    #: The event being checked; a ticket of another event is refused.
    event_id: int | None = None
    presented: str = ""


@dataclass(frozen=True)
class Outcome:
    record: LoggedRecord
    #: The ticket as it is after the attempt (an admission's entry counted).
    ticket: TicketSnapshot | None

    @property
    def admitted(self) -> bool:
        return self.record.result is CheckinResult.ADMITTED


# --- the core: one attempt, one row ------------------------------------------------------------


#: The log keeps at most this much of what was presented when no ticket matched.
PRESENTED_LIMIT = 64


def loggable(text: str) -> str:
    """What was presented, safe for any database: control characters (PostgreSQL refuses NUL
    in text) become U+FFFD, and the excerpt is cut to ``PRESENTED_LIMIT`` characters."""
    return "".join(ch if ch.isprintable() else "\ufffd" for ch in text[:PRESENTED_LIMIT])


def check_in(
    session: Session, merchant_id: int, ticket: TicketSnapshot, actor: Actor, attempt: Attempt
) -> Outcome:
    """Admit or refuse ``ticket`` and log it; never beyond the ticket's allowance. Staff
    admissions and exits are announced (:data:`server.signals.staff_checked_in`) so the gates
    count them too, and commit in record id order
    (:func:`server.checkin.repository.hold_staff_admission_order`)."""
    staff = actor.source is not CheckinSource.GATE
    if staff:
        repo.hold_staff_admission_order(session, merchant_id)
    outcome = _decide_and_log(session, merchant_id, ticket, actor, attempt)
    if outcome.admitted and staff:
        signals.staff_checked_in.send(session, [outcome.record])
    return outcome


def _decide_and_log(
    session: Session, merchant_id: int, ticket: TicketSnapshot, actor: Actor, attempt: Attempt
) -> Outcome:
    if attempt.scan_id is not None:
        earlier = repo.record_by_scan_id(session, merchant_id, attempt.scan_id)
        if earlier is not None:
            return Outcome(earlier, ticket)
    if attempt.direction is Direction.OUT:
        refusal = exit_refusal(
            ticket_facts(ticket), event_id=attempt.event_id, allowed_events=actor.allowed_events
        )
        return Outcome(_log(session, merchant_id, actor, attempt, ticket, refusal), ticket)
    judge = partial(
        entry_refusal,
        at=attempt.scanned_at,
        event_id=attempt.event_id,
        allowed_events=actor.allowed_events,
    )
    refusal = judge(ticket_facts(ticket))
    if refusal is not None:
        return Outcome(_log(session, merchant_id, actor, attempt, ticket, refusal), ticket)
    admitted = _claim_and_log(
        session, merchant_id, ticket, record_values(merchant_id, actor, attempt, ticket, None)
    )
    if admitted is not None:
        return admitted
    now_state = _reloaded(session, merchant_id, ticket)
    refusal = judge(ticket_facts(now_state)) or reasons.ALREADY_USED
    return Outcome(_log(session, merchant_id, actor, attempt, now_state, refusal), now_state)


def _claim_and_log(
    session: Session, merchant_id: int, ticket: TicketSnapshot, values: dict[str, Any]
) -> Outcome | None:
    """Claim the ticket's next entry and store the row ``values`` as that entry's admission;
    None when no entry could be claimed. With a scan id, both happen in a savepoint so that a
    duplicate scan arriving at the same moment undoes the claim and yields the first scan's
    record."""
    if values["scan_id"] is None:
        return _claim(session, ticket, values)
    try:
        with session.begin_nested():
            return _claim(session, ticket, values)
    except IntegrityError:
        earlier = repo.record_by_scan_id(session, merchant_id, values["scan_id"])
        if earlier is None:
            raise
        return Outcome(earlier, _reloaded(session, merchant_id, ticket))


def _claim(session: Session, ticket: TicketSnapshot, values: dict[str, Any]) -> Outcome | None:
    claimed = tickets_repo.claim_entry(session, ticket.id)
    if claimed is None:
        return None
    entries_used, entry_no = claimed
    record = repo.add_record(session, {**values, "entry_no": entry_no})
    return Outcome(record, ticket.claimed(entries_used, entry_no))


def _reloaded(session: Session, merchant_id: int, ticket: TicketSnapshot) -> TicketSnapshot:
    """The ticket's row as it is now (after a refused claim, to say why)."""
    state = tickets_repo.ticket_snapshot(session, merchant_id, ticket.id)
    assert state is not None, "a ticket disappeared during its check-in"
    return state


def log_unmatched(
    session: Session, merchant_id: int, actor: Actor, attempt: Attempt, reason: str
) -> LoggedRecord:
    """Log an attempt that matched no ticket (bad credential, unknown or mistyped code)."""
    if attempt.scan_id is not None:
        earlier = repo.record_by_scan_id(session, merchant_id, attempt.scan_id)
        if earlier is not None:
            return earlier
    return _log(session, merchant_id, actor, attempt, None, reason)


class TicketView(Protocol):
    """What the rules and the log read of a ticket: a loaded ``Ticket`` or a plain row of it
    (the bulk gate path, :mod:`server.checkin.gate_scans`)."""

    @property
    def id(self) -> int: ...
    @property
    def event_id(self) -> int: ...
    @property
    def status(self) -> TicketStatus: ...
    @property
    def valid_from(self) -> datetime | None: ...
    @property
    def valid_until(self) -> datetime | None: ...
    @property
    def entries_allowed(self) -> int: ...
    @property
    def entries_used(self) -> int: ...


def ticket_facts(ticket: TicketView) -> TicketFacts:
    return TicketFacts(
        event_id=ticket.event_id,
        status=ticket.status,
        valid_from=ticket.valid_from,
        valid_until=ticket.valid_until,
        entries_allowed=ticket.entries_allowed,
        entries_in_use=ticket.entries_used,
    )


def record_values(
    merchant_id: int,
    actor: Actor,
    attempt: Attempt,
    ticket: TicketView | None,
    refusal: str | None,
    *,
    entry_no: int | None = None,
    conflict_reason: str = "",
    annuls_record_id: int | None = None,
    reason: str | None = None,
    result: CheckinResult | None = None,
) -> dict[str, Any]:
    """One log row's columns: the only place that says how an attempt becomes a row."""
    if result is None:
        result = CheckinResult.REJECTED if refusal else CheckinResult.ADMITTED
    return {
        "merchant_id": merchant_id,
        "ticket_id": None if ticket is None else ticket.id,
        "event_id": ticket.event_id if ticket is not None else attempt.event_id,
        "source": actor.source,
        "method": attempt.method,
        "checker_user_id": actor.checker_user_id,
        "gate_id": actor.gate_id,
        "device_id": actor.device_id[:64],
        "scan_id": attempt.scan_id,
        "presented": loggable(attempt.presented),
        "direction": attempt.direction,
        "result": result,
        "reason": reason or refusal or reasons.ADMITTED,
        "entry_no": entry_no,
        "annuls_record_id": annuls_record_id,
        "offline": attempt.offline,
        "conflict": bool(conflict_reason),
        "conflict_reason": conflict_reason,
        "scanned_at": attempt.scanned_at,
        "received_at": attempt.received_at,
    }


def _log(
    session: Session,
    merchant_id: int,
    actor: Actor,
    attempt: Attempt,
    ticket: TicketView | None,
    refusal: str | None,
) -> LoggedRecord:
    record = store_unique(session, record_values(merchant_id, actor, attempt, ticket, refusal))
    if record is not None:
        return record
    # Only a scan id can collide here: the same scan arrived twice at once.
    assert attempt.scan_id is not None
    earlier = repo.record_by_scan_id(session, merchant_id, attempt.scan_id)
    assert earlier is not None
    return earlier


def store_unique(session: Session, values: dict[str, Any]) -> StoredRecord | None:
    """Insert the row ``values`` in a savepoint; None when a unique constraint refused it."""
    try:
        with session.begin_nested():
            return repo.add_record(session, values)
    except IntegrityError:
        return None


# --- checker and back-office flows -------------------------------------------------------------


def checker_actor(
    session: Session,
    merchant_id: int,
    user_id: int,
    role: MerchantRole,
    *,
    source: CheckinSource,
    device_id: str = "",
) -> Actor:
    """The actor for a member: checkers restricted to events carry their event list."""
    allowed: frozenset[int] | None = None
    if role is MerchantRole.CHECKER:
        scoped = repo.scoped_events(session, merchant_id, user_id)
        allowed = frozenset(scoped) if scoped else None
    return Actor(
        source=source, checker_user_id=user_id, device_id=device_id, allowed_events=allowed
    )


def check_credential(
    session: Session, merchant_id: int, actor: Actor, credential: str, attempt: Attempt
) -> Outcome:
    """Verify a scanned credential with the merchant's keyring, then check the ticket in."""
    attempt = replace(attempt, method=CheckinMethod.CREDENTIAL)
    verified = _verify(session, merchant_id, credential, attempt.received_at)
    if isinstance(verified, Rejection):
        return Outcome(log_unmatched(session, merchant_id, actor, attempt, verified.reason), None)
    ticket = tickets_repo.ticket_snapshot(session, merchant_id, verified.claims.ticket_id)
    if ticket is None:
        return Outcome(
            log_unmatched(session, merchant_id, actor, attempt, reasons.UNKNOWN_TICKET), None
        )
    return check_in(session, merchant_id, ticket, actor, attempt)


def _verify(
    session: Session, merchant_id: int, credential: str, now: datetime
) -> VerifiedTicket | Rejection:
    """Verify with the merchant's cached keyring; a key refusal (unknown key, bad signature) is
    checked again with keys read now (the cache may predate a key rotated in by another server
    process). Forgeries thus cost one read of the keys, as every scan did before the cache."""
    keyrings = ticket_keys.trusted_keyrings
    verified = verify_ticket(credential, keyrings.get(session, merchant_id, now).keyring)
    if isinstance(verified, Rejection) and verified.reason in _KEY_REFUSALS:
        verified = verify_ticket(credential, keyrings.load(session, merchant_id, now).keyring)
    return verified


_KEY_REFUSALS = frozenset({reasons.UNKNOWN_KEY, reasons.BAD_SIGNATURE})


def find_by_code(session: Session, merchant_id: int, code_text: str) -> TicketSnapshot | str:
    """The ticket with this typed code, or the reason code why there is none."""
    digits = codes.normalize(code_text)
    if digits is None:
        return reasons.MALFORMED
    if not codes.is_valid(digits):
        return reasons.BAD_CHECK_DIGIT
    ticket = tickets_repo.ticket_snapshot_by_code(session, merchant_id, digits)
    return reasons.UNKNOWN_TICKET if ticket is None else ticket


def check_code(
    session: Session, merchant_id: int, actor: Actor, code_text: str, attempt: Attempt
) -> Outcome:
    """Check in the ticket with a typed 12-digit code."""
    attempt = replace(attempt, method=CheckinMethod.CODE)
    found = find_by_code(session, merchant_id, code_text)
    if isinstance(found, str):
        presented = replace(attempt, presented=code_text.strip())
        return Outcome(log_unmatched(session, merchant_id, actor, presented, found), None)
    return check_in(session, merchant_id, found, actor, attempt)


def check_tickets(
    session: Session,
    merchant_id: int,
    actor: Actor,
    ticket_ids: Sequence[int],
    attempt: Attempt,
) -> list[Outcome]:
    """Check in chosen tickets, each its own log row (404 if any is not the merchant's)."""
    attempt = replace(attempt, method=CheckinMethod.TICKET, scan_id=None)
    tickets = [
        _owned_ticket(session, merchant_id, ticket_id) for ticket_id in dict.fromkeys(ticket_ids)
    ]
    return [check_in(session, merchant_id, ticket, actor, attempt) for ticket in tickets]


def usable_tickets_of_phone(
    session: Session, merchant_id: int, phone_text: str, event_id: int | None, now: datetime
) -> list[Ticket]:
    """A phone's tickets that could enter now (valid, in their window, entries left)."""
    phone = normalize_phone(phone_text)
    tickets = tickets_repo.find_tickets(
        session,
        merchant_id,
        event_id=event_id,
        holder_phone=phone,
        status=TicketStatus.VALID,
        limit=500,
    )
    return [t for t in tickets if is_usable(t, now)]


@dataclass(frozen=True)
class HolderTickets:
    """The ticket a typed code names and all of its holder's tickets for that event."""

    named: TicketSnapshot
    tickets: list[Ticket]


def holder_tickets(session: Session, merchant_id: int, code_text: str) -> HolderTickets:
    """Same event and same holder phone; a holder without a phone: the same order."""
    found = find_by_code(session, merchant_id, code_text)
    if isinstance(found, str):
        raise NotFound("tickets.ticket_not_found", detail={"reason": found})
    if found.holder_phone:
        tickets = tickets_repo.find_tickets(
            session,
            merchant_id,
            event_id=found.event_id,
            holder_phone=found.holder_phone,
            limit=500,
        )
    else:
        tickets = [
            t
            for t in tickets_repo.tickets_of_order(session, merchant_id, found.order_id)
            if t.event_id == found.event_id
        ]
    return HolderTickets(found, list(tickets))


def verify_holder_tickets(
    session: Session,
    merchant_id: int,
    actor: Actor,
    code_text: str,
    ticket_ids: Sequence[int] | None,
    attempt: Attempt,
) -> list[Outcome]:
    """Check in one, several or (``ticket_ids`` None) all still-usable tickets of the holder a
    code names; asking for a ticket that is not the holder's is refused before anything is
    logged."""
    holder = holder_tickets(session, merchant_id, code_text)
    if ticket_ids is None:
        chosen = [t.id for t in holder.tickets if is_usable(t, attempt.scanned_at)]
    else:
        holders = {t.id for t in holder.tickets}
        if not set(ticket_ids) <= holders:
            raise Invalid("checkin.not_holders_ticket")
        chosen = list(ticket_ids)
    return check_tickets(session, merchant_id, actor, chosen, attempt)


def _owned_ticket(session: Session, merchant_id: int, ticket_id: int) -> TicketSnapshot:
    ticket = tickets_repo.ticket_snapshot(session, merchant_id, ticket_id)
    if ticket is None:
        raise NotFound("tickets.ticket_not_found", detail={"ticket_id": ticket_id})
    return ticket


# --- records, statistics, checker scopes -------------------------------------------------------


def get_record(session: Session, merchant_id: int, record_id: int) -> CheckinRecord:
    record = repo.get_record(session, merchant_id, record_id)
    if record is None:
        raise NotFound("checkin.record_not_found")
    return record


def find_records(
    session: Session,
    merchant_id: int,
    where: repo.RecordFilter,
    *,
    phone_text: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[CheckinRecord]:
    if phone_text:
        where = replace(where, holder_phone=normalize_phone(phone_text))
    return list(repo.find_records(session, merchant_id, where, limit=limit, offset=offset))


def checker_totals(
    session: Session,
    merchant_id: int,
    *,
    event_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[repo.CheckerTotals]:
    return repo.checker_totals(session, merchant_id, event_id=event_id, since=since, until=until)


def checker_events(session: Session, merchant_id: int, user_id: int) -> list[int]:
    _require_checker(session, merchant_id, user_id)
    return repo.scoped_events(session, merchant_id, user_id)


def set_checker_events(
    session: Session, merchant_id: int, user_id: int, event_ids: Sequence[int]
) -> list[int]:
    """Restrict a checker to ``event_ids`` (empty: every event)."""
    _require_checker(session, merchant_id, user_id)
    repo.replace_scoped_events(session, merchant_id, user_id, event_ids)
    return repo.scoped_events(session, merchant_id, user_id)


def _require_checker(session: Session, merchant_id: int, user_id: int) -> None:
    membership = accounts_repo.get_membership_of_user(session, merchant_id, user_id)
    if membership is None or membership.role is not MerchantRole.CHECKER:
        raise NotFound("checkin.checker_not_found")
