"""List catch-up for gates that missed updates: deltas from the change log, or a snapshot.

A kiosk tells the server which list versions it holds in every ``status`` (and in the result of
a refused list update: ``gap``, ``digest_mismatch``; and in an ``audit`` result, with its
digest). The bridge hands each stored batch to :meth:`GateCatchup.observe` (cheap, no database),
which remembers the latest report per gate; its list thread then calls
:meth:`GateCatchup.send_due`, which compares each reported gate with the site's list heads and
answers on that gate's own ``lists`` topic:

- the gate is current: nothing, and the gate is forgotten;
- behind by at most ``catchup_max_deltas`` versions: the missing deltas from the change log;
- further behind, ahead of the server (a restored server database), a digest that differs at
  the same version (audit), or a delta it could not apply (``digest_mismatch``): a snapshot in
  chunks. A delta too large for one message, or a hole in the log, also falls back to a snapshot.

:class:`CatchupLimiter` keeps a flapping kiosk from making the server spam: the same answer to
the same gate and list at most once per ``catchup_interval``, and any answer at most once per
``catchup_min_spacing``. A gate that is held back stays remembered and is looked at again on
the next pass, so a catch-up that got lost on the way is sent again after the interval, and a
gate that reports progress (another version) is answered without waiting for the interval.
A gate that reports ``offline`` or ``lost`` is forgotten; its next ``online`` status starts over.

Signing keys likewise: a status carries the digest of the keyring the gate trusts
(:func:`protocol.messages.keyring_digest`); a gate whose digest differs from its merchant's
keyring (it missed a ``set_keys`` while offline and its broker session was lost) gets a
``set_keys`` command again, stored like any command, at most once per ``catchup_interval``
and not within that interval after any ``set_keys`` to the gate (a rotation's may still be on
its way).

Staff check-ins likewise: a status carries ``staff_seq``, how far the gate holds the server's
``_staff`` admissions (:mod:`server.fleet.staff_admissions`). A gate whose ``staff_seq`` is
below its site's newest gets the ones after it on its own ``lists`` topic, at most
``catchup_staff_batch`` per catch-up, chained from its ``staff_seq``; its next status (it sends
one as soon as a resend arrives) brings the next batch, until it is current and forgotten. While
a batch is on the way (the gate reports less than the batch's last ``seq``) nothing more goes
to that gate for ``catchup_interval``; after that it is resent from what the gate reports. A
status without ``staff_seq`` (a kiosk older than it) is never answered, so old kiosks cause no
resends at all. :func:`plan_staff_catchup` is the decision.

With several server instances, every bridge hears every status; each pass first claims the
gates it would answer (``fleet_catchup_claims``): a gate claimed by another instance within
``catchup_interval`` is left to it (and kept in mind, in case that instance stops).

:func:`plan_catchup`, :func:`plan_staff_catchup` and :class:`CatchupLimiter` are pure (the
clock is passed in).
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from protocol.messages import (
    LIST_NAMES,
    CommandResult,
    ListUpdate,
    MessageError,
    Status,
    encode,
    keyring_digest,
)
from protocol.topics import Topics
from server.db import Database
from server.fleet import lists, metrics, staff_admissions
from server.fleet import repository as repo
from server.fleet.ingest import Inbound
from server.fleet.keyrings import SET_KEYS, gate_keyring, keyring_command
from server.fleet.metrics import BridgeMetrics
from server.fleet.models import EnrollmentState, ListName, SiteList
from server.fleet.settings import FleetSettings

log = logging.getLogger(__name__)

#: command_result errors with which a kiosk refuses a list update (kiosk.lists outcomes)
GAP = "gap"
DIGEST_MISMATCH = "digest_mismatch"


class PlanKind(enum.StrEnum):
    NOTHING = "nothing"
    DELTAS = "deltas"
    SNAPSHOT = "snapshot"
    #: the gate's keyring digest differs from the merchant's: ``set_keys`` again
    KEYRING = "keyring"
    #: the gate lacks staff admissions: resend them
    STAFF = "staff"


#: The limiter's "list" names for keyring and staff catch-ups.
_KEYRING = "keyring"
_STAFF = "staff"


class StaffPlan(enum.StrEnum):
    #: the gate holds every staff admission of its site (or more: the log went back)
    CURRENT = "current"
    #: a batch sent lately is still on its way
    WAIT = "wait"
    #: send the staff admissions after what the gate holds
    RESEND = "resend"


@dataclass(frozen=True)
class StaffSent:
    """The last staff catch-up sent to a gate: up to which ``seq``, and when."""

    through: int
    at: datetime


def plan_staff_catchup(
    held: int, newest: int, sent: StaffSent | None, now: datetime, interval: timedelta
) -> StaffPlan:
    """What to do for a gate holding the staff chain up to ``held`` when the site's newest staff
    admission is ``newest`` and ``sent`` was the last batch sent to it."""
    if held >= newest:
        return StaffPlan.CURRENT
    if sent is not None and held < sent.through and now - sent.at < interval:
        return StaffPlan.WAIT
    return StaffPlan.RESEND


@dataclass(frozen=True)
class HeldList:
    """What a gate last reported about one of its lists."""

    version: int
    #: the list's digest, when an audit reported it (a status carries versions only)
    digest: str | None = None
    #: the gate could not apply a delta to what it holds: only a snapshot repairs it
    snapshot_wanted: bool = False


def plan_catchup(held: HeldList, head: SiteList | None, max_deltas: int) -> PlanKind:
    """What to send a gate holding ``held`` of a list whose current head is ``head``."""
    if head is None or head.version == 0:
        return PlanKind.NOTHING  # an empty list at version 0 has no snapshot to send
    if held.snapshot_wanted or held.version > head.version:
        return PlanKind.SNAPSHOT
    if held.version == head.version:
        differs = held.digest is not None and held.digest != head.digest
        return PlanKind.SNAPSHOT if differs else PlanKind.NOTHING
    return PlanKind.DELTAS if head.version - held.version <= max_deltas else PlanKind.SNAPSHOT


@dataclass(frozen=True)
class _Sent:
    request: tuple[PlanKind, int]
    at: datetime


class CatchupLimiter:
    """Per gate and list: the same request (kind, reported version) at most once per
    ``interval``; any request at most once per ``min_spacing``."""

    def __init__(self, interval: timedelta, min_spacing: timedelta) -> None:
        self.interval = interval
        self.min_spacing = min_spacing
        self._sent: dict[tuple[str, str, str], _Sent] = {}

    def allow(
        self, key: tuple[str, str, str], request: tuple[PlanKind, int], now: datetime
    ) -> bool:
        """True (and remembered as sent at ``now``) when ``request`` may go out now."""
        last = self._sent.get(key)
        if last is not None:
            wait = self.interval if last.request == request else self.min_spacing
            if now - last.at < wait:
                return False
        self._sent[key] = _Sent(request, now)
        return True


def _held_from_result(result: CommandResult) -> tuple[str, HeldList] | None:
    """The list a result reports on, for refused list updates and audits."""
    detail = result.detail
    name, version = detail.get("list"), detail.get("version")
    if name not in LIST_NAMES or not isinstance(version, int) or isinstance(version, bool):
        return None
    if result.error == DIGEST_MISMATCH:
        return str(name), HeldList(version, snapshot_wanted=True)
    if result.error == GAP:
        return str(name), HeldList(version)
    digest = detail.get("digest")
    if result.ok and isinstance(digest, str) and "outcome" not in detail:  # an audit
        return str(name), HeldList(version, digest=digest)
    return None


class GateCatchup:
    """Remembers what gates report and sends them what they miss (see the module docstring)."""

    def __init__(
        self,
        settings: FleetSettings,
        publish: Callable[[str, bytes], None],
        metrics_: BridgeMetrics,
        *,
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self.settings = settings
        self._publish = publish
        self._metrics = metrics_
        self._wake = wake
        self.limiter = CatchupLimiter(settings.catchup_interval, settings.catchup_min_spacing)
        self._lock = threading.Lock()
        #: (site, gate) -> list name -> what the gate last reported
        self._reported: dict[tuple[str, str], dict[str, HeldList]] = {}
        #: (site, gate) -> the keyring digest its last online status reported
        self._keyrings: dict[tuple[str, str], str] = {}
        #: (site, gate) -> the staff_seq its last online status reported
        self._staff: dict[tuple[str, str], int] = {}
        #: (site, gate) -> the last staff catch-up sent to it (list thread only)
        self._staff_sent: dict[tuple[str, str], StaffSent] = {}

    # --- the ingest thread -------------------------------------------------------------------

    def observe(self, batch: Sequence[Inbound]) -> None:
        """Note the list versions the batch's statuses and results report (no database)."""
        noted = False
        with self._lock:
            for item in batch:
                message = item.message
                if item.ref.gate is None:
                    continue
                key = (item.ref.site, item.ref.gate)
                if isinstance(message, Status):
                    if message.state != "online":
                        self._reported.pop(key, None)
                        self._keyrings.pop(key, None)
                        self._staff.pop(key, None)
                        continue
                    if message.keyring is not None:
                        self._keyrings[key] = message.keyring
                    if message.staff_seq is not None:
                        self._staff[key] = message.staff_seq
                    versions = {
                        "allowlist": message.allowlist_version,
                        "revocations": message.revocations_version,
                    }
                    held = self._reported.setdefault(key, {})
                    for name, version in versions.items():
                        held[name] = self._merge(held.get(name), HeldList(version))
                    noted = True
                elif isinstance(message, CommandResult):
                    found = _held_from_result(message)
                    if found is not None:
                        name, report = found
                        held = self._reported.setdefault(key, {})
                        held[name] = self._merge(held.get(name), report)
                        noted = True
        if noted:
            self._wake()

    @staticmethod
    def _merge(earlier: HeldList | None, report: HeldList) -> HeldList:
        """A digest stays known while the version stays; a wanted snapshot stays wanted."""
        if earlier is None:
            return report
        digest = report.digest
        if digest is None and earlier.version == report.version:
            digest = earlier.digest
        return HeldList(report.version, digest, report.snapshot_wanted or earlier.snapshot_wanted)

    def reported(self) -> dict[tuple[str, str], dict[str, HeldList]]:
        """A copy of the gates waiting to be looked at (for tests and diagnostics)."""
        with self._lock:
            return {key: dict(held) for key, held in self._reported.items()}

    def reported_keyrings(self) -> dict[tuple[str, str], str]:
        """A copy of the keyring digests waiting to be compared (for tests and diagnostics)."""
        with self._lock:
            return dict(self._keyrings)

    def reported_staff(self) -> dict[tuple[str, str], int]:
        """A copy of the staff watermarks waiting to be compared (for tests and diagnostics)."""
        with self._lock:
            return dict(self._staff)

    # --- the list thread ---------------------------------------------------------------------

    def send_due(self, database: Database, now: datetime) -> int:
        """Answer every remembered gate that is behind and not held back; returns how many
        catch-ups (one per gate and list) were sent."""
        pending = self.reported()
        keyrings = self.reported_keyrings()
        staff = self.reported_staff()
        if not pending and not keyrings and not staff:
            return 0
        outgoing: list[tuple[str, bytes]] = []
        sent = 0
        resent = 0
        with database.sessions.begin() as session:
            others = self._claimed_by_others(session, {*keyrings, *staff, *pending}, now)
            keyrings = {key: value for key, value in keyrings.items() if key not in others}
            staff = {key: value for key, value in staff.items() if key not in others}
            pending = {key: value for key, value in pending.items() if key not in others}
            for (site, gate_key), digest in sorted(keyrings.items()):
                message = self._keyring_due(session, site, gate_key, digest, now)
                if message is not None:
                    outgoing.append(message)
                    sent += 1
            newest: dict[int, int] = {}  # venue -> its newest staff seq, read once per pass
            for (site, gate_key), staff_seq in sorted(staff.items()):
                payloads = self._staff_due(session, site, gate_key, staff_seq, newest, now)
                if payloads:
                    topic = Topics(site, self.settings.mqtt_root).lists(gate_key)
                    outgoing.extend((topic, payload) for payload in payloads)
                    sent += 1
                    resent += len(payloads)
            for (site, gate_key), held in sorted(pending.items()):
                gate = repo.gate_by_topic(session, site, gate_key)
                if gate is None or gate.enrollment is not EnrollmentState.ENROLLED:
                    self._settle(site, gate_key, None)
                    continue
                topic = Topics(site, self.settings.mqtt_root).lists(gate_key)
                for name, report in held.items():
                    head = repo.get_site_list(session, gate.venue_id, ListName(name))
                    kind = plan_catchup(report, head, self.settings.catchup_max_deltas)
                    if kind is PlanKind.NOTHING:
                        self._settle(site, gate_key, name)
                        continue
                    if not self.limiter.allow((site, gate_key, name), (kind, report.version), now):
                        self._metrics.add(metrics.CATCHUPS_LIMITED)
                        continue
                    payloads = self._payloads(session, site, head, report, kind, now)
                    outgoing.extend((topic, payload) for payload in payloads)
                    if payloads and kind is PlanKind.SNAPSHOT:
                        self._snapshot_sent(site, gate_key, name)
                    sent += 1
                    log.info(
                        "list catch-up",
                        extra={"site": site, "gate": gate_key, "list": name, "kind": kind.value},
                    )
        for topic, payload in outgoing:
            self._publish(topic, payload)
        self._metrics.add(metrics.LIST_UPDATES_SENT, len(outgoing) - resent)
        self._metrics.add(metrics.STAFF_ADMISSIONS_RESENT, resent)
        self._metrics.add(metrics.CATCHUPS_SENT, sent)
        return sent

    def _claimed_by_others(
        self, session: Session, keys: set[tuple[str, str]], now: datetime
    ) -> set[tuple[str, str]]:
        """The gates among ``keys`` another instance answers for now (they stay remembered:
        should that instance stop, this one claims them once its claim has expired)."""
        gates = repo.gates_by_topics(session, keys)
        enrolled = [gate for gate in gates.values() if gate.enrollment is EnrollmentState.ENROLLED]
        owned = repo.claim_catchups(
            session,
            enrolled,
            self.settings.mqtt_client_id,
            now,
            expired_before=now - self.settings.catchup_interval,
        )
        answered_elsewhere = {gate.id for gate in enrolled} - owned
        others = {key for key, gate in gates.items() if gate.id in answered_elsewhere}
        if others:
            self._metrics.add(metrics.CATCHUPS_ANSWERED_ELSEWHERE, len(others))
        return others

    def _staff_due(
        self,
        session: Session,
        site: str,
        gate_key: str,
        held: int,
        newest: dict[int, int],
        now: datetime,
    ) -> list[bytes]:
        """The staff admissions a gate holding the chain up to ``held`` lacks, as payloads for
        its ``lists`` topic, unless it is current (then it is forgotten) or held back."""
        key = (site, gate_key)
        gate = repo.gate_by_topic(session, site, gate_key)
        if gate is None or gate.enrollment is not EnrollmentState.ENROLLED:
            self._forget_staff(key, held)
            return []
        if gate.venue_id not in newest:
            newest[gate.venue_id] = staff_admissions.newest_seq(session, gate.venue_id, now)
        interval = self.settings.catchup_interval
        plan = plan_staff_catchup(
            held, newest[gate.venue_id], self._staff_sent.get(key), now, interval
        )
        if plan is StaffPlan.CURRENT:
            self._forget_staff(key, held)
            return []
        if plan is StaffPlan.WAIT or not self.limiter.allow(
            (site, gate_key, _STAFF), (PlanKind.STAFF, held), now
        ):
            self._metrics.add(metrics.CATCHUPS_LIMITED)
            return []
        admissions = staff_admissions.resend_admissions(
            session, gate.venue_id, after=held, now=now, limit=self.settings.catchup_staff_batch
        )
        if not admissions:
            return []
        self._staff_sent[key] = StaffSent(through=admissions[-1].seq or held, at=now)
        log.info(
            "staff catch-up",
            extra={"site": site, "gate": gate_key, "after": held, "count": len(admissions)},
        )
        return [encode(admission) for admission in admissions]

    def _forget_staff(self, key: tuple[str, str], held: int) -> None:
        with self._lock:
            if self._staff.get(key) == held:
                del self._staff[key]
        self._staff_sent.pop(key, None)

    def _keyring_due(
        self, session: Session, site: str, gate_key: str, digest: str, now: datetime
    ) -> tuple[str, bytes] | None:
        """A ``set_keys`` for a gate whose reported keyring is not the merchant's, unless the
        limiter holds it back; a gate that holds the right keyring is forgotten."""
        gate = repo.gate_by_topic(session, site, gate_key)
        if gate is None or gate.enrollment is not EnrollmentState.ENROLLED:
            self._forget_keyring(site, gate_key, digest)
            return None
        keys = gate_keyring(session, gate.merchant_id)
        if keyring_digest(keys) == digest:
            self._forget_keyring(site, gate_key, digest)
            return None
        # A keyring sent lately (a rotation's, or an earlier catch-up) may still be on its way
        # or waiting for the gate's next status: give it the catch-up interval before another.
        last_sent = repo.last_command_sent_at(session, gate.id, SET_KEYS)
        recently = last_sent is not None and now - last_sent < self.settings.catchup_interval
        if recently or not self.limiter.allow(
            (site, gate_key, _KEYRING), (PlanKind.KEYRING, 0), now
        ):
            self._metrics.add(metrics.CATCHUPS_LIMITED)
            return None
        _, topic, payload = keyring_command(session, gate, keys, now, self.settings)
        log.info("keyring catch-up", extra={"site": site, "gate": gate_key})
        return topic, payload

    def _forget_keyring(self, site: str, gate: str, digest: str) -> None:
        with self._lock:
            if self._keyrings.get((site, gate)) == digest:
                del self._keyrings[(site, gate)]

    def _settle(self, site: str, gate: str, name: str | None) -> None:
        with self._lock:
            held = self._reported.get((site, gate))
            if held is not None and name is not None:
                held.pop(name, None)
            if held is not None and (name is None or not held):
                del self._reported[(site, gate)]

    def _snapshot_sent(self, site: str, gate: str, name: str) -> None:
        with self._lock:
            held = self._reported.get((site, gate), {})
            if name in held:
                held[name] = replace(held[name], snapshot_wanted=False)

    def _payloads(
        self,
        session: Session,
        site: str,
        head: SiteList | None,
        report: HeldList,
        kind: PlanKind,
        now: datetime,
    ) -> list[bytes]:
        assert head is not None  # plan_catchup sends nothing for a missing list
        ts = int(now.timestamp() * 1000)
        if kind is PlanKind.DELTAS:
            deltas = self._deltas(session, site, head, report.version, ts)
            if deltas is not None:
                return deltas
        return self._snapshot(session, site, head.venue_id, head.list, ts)

    def _deltas(
        self, session: Session, site: str, head: SiteList, held: int, ts: int
    ) -> list[bytes] | None:
        """The deltas from ``held`` to ``head``, or None when the log cannot give them
        contiguously or one is too large for a message (then a snapshot goes instead)."""
        changes = [
            change
            for change in repo.changes_after(session, head.venue_id, head.list, held)
            if change.version <= head.version
        ]
        deltas = lists.delta_messages(changes, site=site, name=head.list, ts=ts)
        if [d.from_version for d in deltas] != list(range(held, head.version)):
            return None
        try:
            return [encode(delta) for delta in deltas]
        except MessageError:
            return None

    def _snapshot(
        self, session: Session, site: str, venue_id: int, name: ListName, ts: int
    ) -> list[bytes]:
        """The whole list in chunks; the chunk size halves until every chunk fits a message."""
        size = self.settings.snapshot_chunk_size
        while size >= 1:
            chunks: list[ListUpdate] = lists.snapshot_messages(
                session, site=site, venue_id=venue_id, name=name, chunk_size=size, ts=ts
            )
            try:
                return [encode(chunk) for chunk in chunks]
            except MessageError:
                size //= 2
        log.error("list snapshot does not fit in messages", extra={"site": site, "list": name})
        return []
