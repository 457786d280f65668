"""The gate's decision: scanned text + local store view + policy + clock -> Decision.

Pure: no I/O of its own, no clock reads (``now_ms`` is passed in); the store view answers
lookups. Total: any text yields a Decision with a reason code from ``protocol.reasons``.

Order of checks (cheap and certain first; revocation before use counts):

1. gate mode: ``locked`` or ``maintenance`` -> ``gate_locked``;
2. identify the ticket. Text that normalizes to 12 digits is a typed code:
   ``accept_codes`` off -> ``malformed``; Damm check fails -> ``bad_check_digit``; its salted
   hash not in the allowlist -> ``unknown_ticket``. Anything else is a signed credential:
   form (``malformed``, ``too_long``, ``unsupported_version``), key (``unknown_key``),
   signature (``bad_signature``);
3. free-passage mode: admitted whatever step 2 found (still recorded, with the ticket if known);
4. ``wrong_event`` (policy's events), ``wrong_zone`` (policy's zones; ticket zone 0 fits all);
5. validity window of a signed credential: ``not_yet_valid`` / ``expired``;
6. ``revoked`` (by ticket id, signed or typed);
7. broker unreachable: offline action ``deny`` -> ``offline_policy``; ``admit_signed_only``
   refuses typed codes with ``offline_policy``;
8. entries and anti-passback over the ledger (``kiosk.passback``): ``passback``,
   ``already_used``;
9. ``admitted``, with the entry number (exits: none).
"""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.passback import judge
from kiosk.policy import GatePolicy
from kiosk.store import ScanRecord, StoreView
from protocol import codes, messages
from protocol.allowlist import hash_code
from protocol.credential import TicketClaims, check_window
from protocol.reasons import (
    ADMITTED,
    BAD_CHECK_DIGIT,
    GATE_LOCKED,
    MALFORMED,
    OFFLINE_POLICY,
    REVOKED,
    UNKNOWN_TICKET,
    WRONG_EVENT,
    WRONG_ZONE,
    Rejection,
)
from protocol.signing import verify_ticket

LOCKED_MODES = ("locked", "maintenance")
FREE_MODE = "free"
#: Entries of a typed code whose allowlist entry gives no count: one, the safe choice.
DEFAULT_CODE_ENTRIES = 1
#: Scanners add line ends; trimmed before deciding whether the text is a typed code.
_LINE_ENDS = "\t\r\n\x0b\x0c"


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one scan. ``reason`` is ``admitted`` exactly when ``admitted``.

    ``ticket_key`` (``t:<ticket id>``, or ``c:<code hash>`` for a typed code whose allowlist
    entry names no ticket) is None when the ticket could not be identified. ``detail`` is
    English for operators and logs; visitors see ``kiosk.i18n`` texts for ``reason``.
    """

    admitted: bool
    reason: str
    ticket_key: str | None
    ticket_id: int | None
    event_id: int | None
    entry_no: int | None
    direction: str
    offline: bool
    detail: str = ""
    code_hash: str | None = None

    def record(self, scan_id: str, gate: str, at_ms: int) -> ScanRecord:
        """What ``KioskStore.record_scan`` writes for this decision."""
        return ScanRecord(
            scan_id=scan_id,
            gate=gate,
            direction=self.direction,
            at_ms=at_ms,
            admitted=self.admitted,
            ticket_key=self.ticket_key,
            entry_no=self.entry_no,
        )

    def scan_message(
        self, *, scan_id: str, gate: str, seq: int, scanned_at: int, ts: int
    ) -> messages.Scan:
        """The ``scan`` message reporting this decision to the server."""
        return messages.Scan(
            scan_id=scan_id,
            gate=gate,
            seq=seq,
            scanned_at=scanned_at,
            offline=self.offline,
            direction=self.direction,
            decision="admitted" if self.admitted else "rejected",
            reason=self.reason,
            ticket_id=self.ticket_id,
            event_id=self.event_id,
            code_hash=self.code_hash,
            entry_no=self.entry_no,
            ts=ts,
        )


@dataclass(frozen=True, slots=True)
class _Ticket:
    """An identified ticket: from a verified credential or an allowlist entry."""

    key: str
    ticket_id: int | None
    event_id: int | None
    zone: int
    entries: int
    claims: TicketClaims | None
    code_hash: str | None

    @property
    def signed(self) -> bool:
        return self.claims is not None


def decide(
    text: str,
    view: StoreView,
    policy: GatePolicy,
    now_ms: int,
    link_up: bool,
    direction: str | None = None,
) -> Decision:
    """Decide one scan (see the module docstring for the order of checks).

    ``direction`` is the way this scan goes; by default the policy's (``in`` for a gate whose
    policy says ``both``: such a gate's caller names the direction of each reader).
    """
    way = direction or ("in" if policy.direction == "both" else policy.direction)
    offline = not link_up

    def reject(reason: str, detail: str, ticket: _Ticket | None = None) -> Decision:
        return _decision(False, reason, detail, ticket, None, way, offline)

    mode = view.mode()
    if mode in LOCKED_MODES:
        return reject(GATE_LOCKED, f"gate mode {mode}")

    found = _identify(text, view, policy)
    if mode == FREE_MODE:
        if isinstance(found, Rejection):
            return _decision(
                True, ADMITTED, f"free passage ({found.reason})", None, None, way, offline
            )
        verdict = judge(view.admissions(found.key), policy, way, found.entries, now_ms)
        entry_no = verdict.entry_no if way == "in" else None
        return _decision(True, ADMITTED, "free passage", found, entry_no, way, offline)
    if isinstance(found, Rejection):
        return reject(found.reason, found.detail)
    ticket = found

    if policy.event_ids and ticket.event_id not in policy.event_ids:
        return reject(WRONG_EVENT, f"event {ticket.event_id} is not served here", ticket)
    if policy.zones and ticket.zone != 0 and ticket.zone not in policy.zones:
        return reject(WRONG_ZONE, f"zone {ticket.zone} does not open here", ticket)
    if ticket.claims is not None:
        outside = check_window(ticket.claims, now_ms / 1000)
        if outside is not None:
            return reject(outside.reason, outside.detail, ticket)
    if ticket.ticket_id is not None and view.is_revoked(ticket.ticket_id):
        return reject(REVOKED, f"ticket {ticket.ticket_id} is revoked", ticket)
    if offline:
        if policy.offline_action == "deny":
            return reject(OFFLINE_POLICY, "broker unreachable: offline action deny", ticket)
        if policy.offline_action == "admit_signed_only" and not ticket.signed:
            return reject(OFFLINE_POLICY, "broker unreachable: typed codes refused", ticket)

    verdict = judge(view.admissions(ticket.key), policy, way, ticket.entries, now_ms)
    if verdict.reason is not None:
        return reject(verdict.reason, verdict.detail, ticket)
    detail = f"soft passback: {verdict.flag}" if verdict.flag else ""
    return _decision(True, ADMITTED, detail, ticket, verdict.entry_no, way, offline)


def _decision(
    admitted: bool,
    reason: str,
    detail: str,
    ticket: _Ticket | None,
    entry_no: int | None,
    direction: str,
    offline: bool,
) -> Decision:
    return Decision(
        admitted=admitted,
        reason=reason,
        ticket_key=None if ticket is None else ticket.key,
        ticket_id=None if ticket is None else ticket.ticket_id,
        event_id=None if ticket is None else ticket.event_id,
        entry_no=entry_no,
        direction=direction,
        offline=offline,
        detail=detail,
        code_hash=None if ticket is None else ticket.code_hash,
    )


def _identify(text: object, view: StoreView, policy: GatePolicy) -> _Ticket | Rejection:
    trimmed = text.strip(_LINE_ENDS) if isinstance(text, str) else text
    code = codes.normalize(trimmed)
    if code is not None:
        return _identify_code(code, view, policy)
    verified = verify_ticket(text, view.keyring())
    if isinstance(verified, Rejection):
        return verified
    claims = verified.claims
    return _Ticket(
        key=f"t:{claims.ticket_id}",
        ticket_id=claims.ticket_id,
        event_id=claims.event_id,
        zone=claims.zone,
        entries=claims.entries,
        claims=claims,
        code_hash=None,
    )


def _identify_code(code: str, view: StoreView, policy: GatePolicy) -> _Ticket | Rejection:
    if not policy.accept_codes:
        return Rejection(MALFORMED, "typed codes are not accepted at this gate")
    if not codes.is_valid(code):
        return Rejection(BAD_CHECK_DIGIT, "check digit does not match")
    salt = view.code_salt()
    if salt is None:
        return Rejection(UNKNOWN_TICKET, "no code salt in the store (kiosk not enrolled)")
    code_hash = hash_code(code, salt)
    entry = view.allowlist_entry(code_hash)
    if entry is None:
        return Rejection(UNKNOWN_TICKET, "code not in the allowlist")
    key = f"t:{entry.ticket_id}" if entry.ticket_id is not None else f"c:{code_hash}"
    return _Ticket(
        key=key,
        ticket_id=entry.ticket_id,
        event_id=entry.event_id if entry.event_id is not None else entry.scope,
        zone=entry.zone or 0,
        entries=DEFAULT_CODE_ENTRIES if entry.entries is None else entry.entries,
        claims=None,
        code_hash=code_hash,
    )
