"""The durable outbox drain: scans leave the kiosk only when the server says it stored them.

The scan loop writes each decided scan into the store's ``outbox`` table (in the same
transaction as the admission, before the relay opens). This module publishes those rows as
``scan`` messages at QoS 1 on the gate's ``scans`` topic, in ``seq`` order, with at most
``window`` of them unacknowledged at a time, and deletes a row only when the server's
``scan_ack`` names its scan id or covers its ``seq`` with the watermark. The broker's PUBACK
deletes nothing: a broker may drop queued messages and the server may be down when the broker
delivers (SPEC.md, offline drain). Rows still unacknowledged ``resend_after`` seconds after
their last publish are published again; the server de-duplicates by scan id. After a restart the
drain starts again from the first row in the store, so nothing depends on memory.

A row's payload is the scan's fields except ``seq`` (the store assigns it on insert) and the
envelope (``ts`` and ``id`` are fresh on each publish): :func:`scan_payload` builds and validates
it before it is written, :func:`scan_from_row` turns a row back into a :class:`Scan`.

Not thread-safe: one thread (the link worker) owns a drain and calls everything on it.
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from kiosk.store import OutboxRow
from protocol import messages
from protocol.messages import MessageError, Scan

log = logging.getLogger(__name__)

#: publish(topic, payload, qos) -> whether the client took the message for sending
Publish = Callable[[str, bytes, int], bool]


class OutboxStore(Protocol):
    """What the drain needs from :class:`kiosk.store.KioskStore`."""

    def outbox_peek(self, after_seq: int, limit: int) -> list[OutboxRow]: ...

    def outbox_ack(self, scan_ids: list[str]) -> int: ...

    def outbox_ack_through(self, seq: int) -> int: ...

    def outbox_depth(self) -> int: ...


def scan_payload(
    *,
    scan_id: str,
    gate: str,
    scanned_at: int,
    offline: bool,
    direction: str,
    decision: str,
    reason: str,
    ticket_id: int | None,
    event_id: int | None,
    code_hash: str | None,
    entry_no: int | None,
    annuls: str | None = None,
) -> bytes:
    """The outbox payload of one scan; raises MessageError if the scan could never be sent.

    Validating here, before the row is written, means every row in the outbox is publishable.
    """
    fields: dict[str, object] = {
        "scan_id": scan_id,
        "gate": gate,
        "scanned_at": scanned_at,
        "offline": offline,
        "direction": direction,
        "decision": decision,
        "reason": reason,
        "ticket_id": ticket_id,
        "event_id": event_id,
        "code_hash": code_hash,
        "entry_no": entry_no,
        "annuls": annuls,
    }
    Scan(seq=1, ts=scanned_at, **fields)  # type: ignore[arg-type]
    return json.dumps(fields, separators=(",", ":")).encode("utf-8")


def scan_from_row(row: OutboxRow, ts: int) -> Scan:
    """The message for an outbox row, stamped ``ts``; raises MessageError for a corrupt row."""
    try:
        fields = json.loads(row.payload)
    except (ValueError, TypeError) as exc:
        raise MessageError(messages.BAD_JSON, f"outbox row {row.seq}: {exc}") from None
    if not isinstance(fields, dict):
        raise MessageError(messages.NOT_OBJECT, f"outbox row {row.seq}")
    try:
        return Scan(seq=row.seq, ts=ts, **fields)
    except TypeError as exc:
        raise MessageError(messages.BAD_FIELD, f"outbox row {row.seq}: {exc}") from None


@dataclass(slots=True)
class _InFlight:
    seq: int
    sent_at: float


@dataclass(frozen=True, slots=True)
class DrainStats:
    """Counters for status, telemetry and ``admit kiosk status``."""

    in_flight: int
    published: int
    resent: int
    acked: int
    corrupt: int


class OutboxDrain:
    """Publishes outbox rows in order within a window and deletes them on the server's acks."""

    def __init__(
        self,
        store: OutboxStore,
        publish: Publish,
        topic: str,
        *,
        window: int = 100,
        resend_after: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        if window < 1:
            raise ValueError("window must be at least 1")
        self._store = store
        self._publish = publish
        self._topic = topic
        self._window = window
        self._resend_after = resend_after
        self._clock = clock
        self._wall_clock_ms = wall_clock_ms
        # scan_id -> seq and last publish time, in seq order
        self._in_flight: OrderedDict[str, _InFlight] = OrderedDict()
        self._last_seq = 0
        self._corrupt: set[int] = set()
        self._published = 0
        self._resent = 0
        self._acked = 0

    @property
    def stats(self) -> DrainStats:
        return DrainStats(
            in_flight=len(self._in_flight),
            published=self._published,
            resent=self._resent,
            acked=self._acked,
            corrupt=len(self._corrupt),
        )

    def pump(self) -> int:
        """Re-send overdue scans, then publish new rows while the window has room.

        Call only while connected. Returns how many messages were handed to the client.
        """
        sent = self._resend_overdue()
        while len(self._in_flight) < self._window:
            rows = self._store.outbox_peek(self._last_seq, self._window - len(self._in_flight))
            if not rows:
                break
            for row in rows:
                if not self._send(row.scan_id, row, resend=False):
                    return sent
                sent += 1
        return sent

    def handle_ack(self, scan_ids: list[str], watermark: int) -> int:
        """Delete what the server stored (the scan ids and watermark of one or more
        ``ScanAck`` messages); returns the number of outbox rows deleted."""
        deleted = 0
        if scan_ids:
            deleted += self._store.outbox_ack(scan_ids)
            for scan_id in scan_ids:
                self._in_flight.pop(scan_id, None)
        if watermark:
            deleted += self._store.outbox_ack_through(watermark)
            for scan_id in [k for k, v in self._in_flight.items() if v.seq <= watermark]:
                del self._in_flight[scan_id]
        self._acked += deleted
        return deleted

    def forget_in_flight(self) -> None:
        """Start over from the first row on the next pump (after a reconnect: what was in
        flight may have been lost); rows are re-sent at once instead of after the timeout."""
        self._in_flight.clear()
        self._last_seq = 0

    def next_resend_in(self) -> float | None:
        """Seconds until the oldest in-flight scan is due again (None: nothing in flight)."""
        if not self._in_flight:
            return None
        oldest = min(entry.sent_at for entry in self._in_flight.values())
        return max(0.0, oldest + self._resend_after - self._clock())

    def _resend_overdue(self) -> int:
        due_before = self._clock() - self._resend_after
        overdue = [scan_id for scan_id, e in self._in_flight.items() if e.sent_at <= due_before]
        if not overdue:
            return 0
        first_seq = self._in_flight[overdue[0]].seq
        rows = {
            row.scan_id: row
            for row in self._store.outbox_peek(
                first_seq - 1, len(self._in_flight) + len(self._corrupt)
            )
        }
        sent = 0
        for scan_id in overdue:
            row = rows.get(scan_id)
            if row is None:  # acknowledged by another path (watermark) meanwhile
                del self._in_flight[scan_id]
                continue
            if not self._send(scan_id, row, resend=True):
                break
            sent += 1
        return sent

    def _send(self, scan_id: str, row: OutboxRow, *, resend: bool) -> bool:
        self._last_seq = max(self._last_seq, row.seq)
        if row.seq in self._corrupt:
            return True
        try:
            payload = messages.encode(scan_from_row(row, self._wall_clock_ms()))
        except MessageError as exc:
            # Never delete it (nothing leaves the outbox without an ack) and never let it block
            # the rows behind it: skip it, keep it on disk for an operator to look at.
            log.error("outbox row %s cannot be published and stays in the store: %s", row.seq, exc)
            self._corrupt.add(row.seq)
            return True
        if not self._publish(self._topic, payload, 1):
            if not resend:
                self._last_seq = row.seq - 1
            return False
        # a re-send keeps the entry's place: the dict stays in seq order
        self._in_flight[scan_id] = _InFlight(row.seq, self._clock())
        if resend:
            self._resent += 1
        else:
            self._published += 1
        return True
