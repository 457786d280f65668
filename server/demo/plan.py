"""What each simulated kiosk is shown, in which order, and what it should decide (pure).

Every kiosk first gets a "tour": one ticket of every kind in random order, then the first valid
ticket again (already used by then), so even a short run shows every outcome. After the tour
the kinds are drawn at random by weight until the pools run out, and some admitted tickets come
back a few scans later (``used again``: refused by the gate's own ledger, after the debounce
window). Kinds and what the gate must answer:

=====================  ===================  ================================================
kind                   gate answers         why
=====================  ===================  ================================================
valid                  ``admitted``         sold, paid, not used
typed code             ``admitted``         the 12-digit code typed instead of scanned
used again             ``already_used``     admitted at this gate a moment ago
checked at counter     ``already_used``     checked in at the box office before the gates
                                            enrolled: the server told each gate at enrollment
refunded               ``revoked``          its id is on the revocation list
VIP ticket             ``wrong_zone``       valid, but not for the zone these gates guard
forged: unknown key    ``unknown_key``      signed by a key the gates do not trust
forged: wrong key      ``bad_signature``    signed by another key under the genuine key id
forged: one character  ``bad_signature``    a genuine credential with one character changed
=====================  ===================  ================================================
"""

from __future__ import annotations

import enum
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from protocol import reasons


class Kind(enum.StrEnum):
    VALID = "valid"
    TYPED_CODE = "typed code"
    USED_AGAIN = "used again"
    CHECKED_AT_COUNTER = "checked at counter"
    REFUNDED = "refunded"
    VIP = "VIP ticket"
    UNKNOWN_KEY = "forged: unknown key"
    WRONG_KEY = "forged: wrong key"
    ONE_CHARACTER = "forged: one character"


EXPECTED_REASON: dict[Kind, str] = {
    Kind.VALID: reasons.ADMITTED,
    Kind.TYPED_CODE: reasons.ADMITTED,
    Kind.USED_AGAIN: reasons.ALREADY_USED,
    Kind.CHECKED_AT_COUNTER: reasons.ALREADY_USED,
    Kind.REFUNDED: reasons.REVOKED,
    Kind.VIP: reasons.WRONG_ZONE,
    Kind.UNKNOWN_KEY: reasons.UNKNOWN_KEY,
    Kind.WRONG_KEY: reasons.BAD_SIGNATURE,
    Kind.ONE_CHARACTER: reasons.BAD_SIGNATURE,
}

#: Draw weights after the tour (valid tickets dominate, as at a real gate).
WEIGHTS: dict[Kind, int] = {
    Kind.VALID: 60,
    Kind.TYPED_CODE: 6,
    Kind.CHECKED_AT_COUNTER: 4,
    Kind.REFUNDED: 6,
    Kind.VIP: 4,
    Kind.UNKNOWN_KEY: 3,
    Kind.WRONG_KEY: 3,
    Kind.ONE_CHARACTER: 4,
}
#: Share of admitted tickets shown again later, and how many scans later at the earliest.
AGAIN_SHARE = 0.15
AGAIN_AFTER = 6


@dataclass(frozen=True)
class PlannedScan:
    kind: Kind
    #: what the visitor shows (credential text) or types (12-digit code)
    text: str
    typed: bool = False

    @property
    def expected_reason(self) -> str:
        return EXPECTED_REASON[self.kind]


@dataclass(frozen=True)
class Pass:
    """A valid ticket: its credential (for the camera) and its code (for typing)."""

    credential: str
    code: str


@dataclass
class ScanPools:
    """The texts to show, by kind; :func:`build_plans` deals them out and empties nothing."""

    valid: list[Pass] = field(default_factory=list)
    checked_at_counter: list[str] = field(default_factory=list)
    refunded: list[str] = field(default_factory=list)
    vip: list[str] = field(default_factory=list)
    unknown_key: list[str] = field(default_factory=list)
    wrong_key: list[str] = field(default_factory=list)
    one_character: list[str] = field(default_factory=list)


class _Dealer:
    """Hands out each pool item once across all kiosks."""

    def __init__(self, pools: ScanPools, rng: random.Random) -> None:
        self._rng = rng
        self._valid = list(pools.valid)
        self._texts: dict[Kind, list[str]] = {
            Kind.CHECKED_AT_COUNTER: list(pools.checked_at_counter),
            Kind.REFUNDED: list(pools.refunded),
            Kind.VIP: list(pools.vip),
            Kind.UNKNOWN_KEY: list(pools.unknown_key),
            Kind.WRONG_KEY: list(pools.wrong_key),
            Kind.ONE_CHARACTER: list(pools.one_character),
        }
        rng.shuffle(self._valid)
        for texts in self._texts.values():
            rng.shuffle(texts)

    def available(self, kind: Kind) -> bool:
        if kind in (Kind.VALID, Kind.TYPED_CODE):
            return bool(self._valid)
        return bool(self._texts.get(kind))

    def take(self, kind: Kind) -> PlannedScan:
        if kind is Kind.VALID:
            return PlannedScan(kind, self._valid.pop().credential)
        if kind is Kind.TYPED_CODE:
            return PlannedScan(kind, self._valid.pop().code, typed=True)
        return PlannedScan(kind, self._texts[kind].pop())

    def draw(self) -> Kind | None:
        kinds = [kind for kind in WEIGHTS if self.available(kind)]
        if not kinds:
            return None
        return self._rng.choices(kinds, weights=[WEIGHTS[kind] for kind in kinds])[0]


def _tour(dealer: _Dealer, rng: random.Random) -> list[PlannedScan]:
    kinds = [kind for kind in WEIGHTS if dealer.available(kind)]
    rng.shuffle(kinds)
    tour = [dealer.take(kind) for kind in kinds if dealer.available(kind)]
    admitted = [scan for scan in tour if scan.kind is Kind.VALID]
    if admitted:
        padding = max(0, AGAIN_AFTER - len(tour))
        filler = [dealer.take(Kind.VALID) for _ in range(padding) if dealer.available(Kind.VALID)]
        tour.extend(filler)
        tour.append(PlannedScan(Kind.USED_AGAIN, admitted[0].text))
    return tour


def build_plans(pools: ScanPools, kiosks: int, rng: random.Random) -> list[list[PlannedScan]]:
    """One scan sequence per kiosk; every pool item appears at most once over all kiosks."""
    if kiosks < 1:
        raise ValueError("at least one kiosk")
    dealer = _Dealer(pools, rng)
    plans = [_tour(dealer, rng) for _ in range(kiosks)]
    again: list[list[tuple[int, PlannedScan]]] = [[] for _ in range(kiosks)]
    turn = 0
    while True:
        plan, waiting = plans[turn], again[turn]
        if waiting and waiting[0][0] <= len(plan):
            plan.append(waiting.pop(0)[1])
        else:
            kind = dealer.draw()
            if kind is None:
                break
            scan = dealer.take(kind)
            plan.append(scan)
            if scan.kind is Kind.VALID and rng.random() < AGAIN_SHARE:
                waiting.append((len(plan) + AGAIN_AFTER, PlannedScan(Kind.USED_AGAIN, scan.text)))
        turn = (turn + 1) % kiosks
    for plan, waiting in zip(plans, again, strict=True):
        plan.extend(scan for _, scan in waiting)
    return plans


def originals(plan: Sequence[PlannedScan]) -> dict[int, int]:
    """Index of each ``used again`` scan -> index of the earlier scan of the same text."""
    first: dict[str, int] = {}
    found: dict[int, int] = {}
    for index, scan in enumerate(plan):
        if scan.kind is Kind.USED_AGAIN:
            found[index] = first[scan.text]
        else:
            first.setdefault(scan.text, index)
    return found
