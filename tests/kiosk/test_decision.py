"""Decision table: every reason code, the order of checks, free passage, exits, forgeries."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.decision import Decision, decide
from kiosk.lists import apply_update
from kiosk.policy import GatePolicy
from kiosk.store import KioskStore, StoreView
from protocol import codes, messages, reasons
from protocol.allowlist import ListDigest, hash_code
from protocol.credential import TicketClaims
from protocol.signing import Keyring, SigningKey, sign_ticket

NOW_MS = 1_748_772_000_000  # 2025-06-01T10:00Z
NOW_S = NOW_MS // 1000
SALT = "expo-hall-salt"
SITE = "expo-hall"
GATE = "north-1"
KEY = SigningKey.from_seed(1, bytes(range(32)))
OTHER_KEY = SigningKey.from_seed(1, bytes(range(1, 33)))
UNTRUSTED_KEY = SigningKey.from_seed(9, bytes(range(2, 34)))
CODE_TICKET = 500_001
KNOWN_CODE = codes.new_code(12_345_678)
UNLISTED_CODE = codes.new_code(87_654_321)
BAD_DIGIT_CODE = KNOWN_CODE[:-1] + str((int(KNOWN_CODE[-1]) + 1) % 10)


def ticket(key: SigningKey = KEY, **fields: int) -> str:
    claims = {
        "ticket_id": 100_234,
        "event_id": 17,
        "zone": 1,
        "valid_from": NOW_S - 3600,
        "valid_until": NOW_S + 3600,
        "entries": 1,
    }
    claims.update(fields)
    return sign_ticket(TicketClaims(key_id=key.key_id, **claims), key)


def policy(**overrides: object) -> GatePolicy:
    base: dict[str, object] = {
        "gate_id": GATE,
        "site": SITE,
        "event_ids": frozenset({17}),
        "zones": frozenset({1, 2}),
    }
    base.update(overrides)
    return GatePolicy(**base)  # type: ignore[arg-type]


def make_store(path: Path) -> KioskStore:
    store = KioskStore(path)
    keyring = Keyring()
    keyring.add(KEY.key_id, KEY.public_key_text())
    store.set_trusted_keys(keyring)
    store.set_setting("code_salt", SALT)
    entry = hash_code(KNOWN_CODE, SALT)
    result = apply_update(
        store,
        messages.ListUpdate(
            list="allowlist",
            site=SITE,
            scope=17,
            snapshot=True,
            from_version=0,
            to_version=1,
            add=[entry],
            remove=[],
            digest=ListDigest.of([entry]).hex(),
            chunk=0,
            chunks=1,
            meta={entry: {"ticket_id": CODE_TICKET, "event_id": 17, "zone": 2, "entries": 1}},
            ts=NOW_MS,
        ),
    )
    assert result.ok
    return store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[KioskStore]:
    with make_store(tmp_path / "kiosk.db") as opened:
        yield opened


def admit_and_record(
    store: KioskStore, text: str, at_ms: int, scan_id: str, **kw: object
) -> Decision:
    decision = decide(text, store.view(), kw.pop("gate_policy", policy()), at_ms, True, **kw)  # type: ignore[arg-type]
    store.record_scan(decision.record(scan_id, GATE, at_ms), b"{}")
    return decision


def revoke(store: KioskStore, *ticket_ids: int) -> None:
    entries = [str(ticket_id) for ticket_id in ticket_ids]
    result = apply_update(
        store,
        messages.ListUpdate(
            list="revocations",
            site=SITE,
            scope=None,
            snapshot=False,
            from_version=0,
            to_version=1,
            add=entries,
            remove=[],
            digest=ListDigest.of(entries).hex(),
            chunk=0,
            chunks=1,
            ts=NOW_MS,
        ),
    )
    assert result.ok


CASES = [
    ("signed ticket", ticket(), {}, reasons.ADMITTED),
    ("typed code", KNOWN_CODE, {}, reasons.ADMITTED),
    ("typed code with spaces", codes.format_code(KNOWN_CODE), {}, reasons.ADMITTED),
    ("scanner line end", ticket() + "\r\n", {}, reasons.ADMITTED),
    ("zone 0 fits every gate", ticket(zone=0), {}, reasons.ADMITTED),
    ("garbage", "hello world", {}, reasons.MALFORMED),
    ("empty", "", {}, reasons.MALFORMED),
    ("too long", "A" * 300, {}, reasons.TOO_LONG),
    ("codes refused here", KNOWN_CODE, {"accept_codes": False}, reasons.MALFORMED),
    ("other key, same id", ticket(OTHER_KEY), {}, reasons.BAD_SIGNATURE),
    ("untrusted key id", ticket(UNTRUSTED_KEY), {}, reasons.UNKNOWN_KEY),
    ("wrong event", ticket(event_id=18), {}, reasons.WRONG_EVENT),
    ("wrong zone", ticket(zone=3), {}, reasons.WRONG_ZONE),
    ("code for another zone", KNOWN_CODE, {"zones": frozenset({1})}, reasons.WRONG_ZONE),
    ("not yet valid", ticket(valid_from=NOW_S + 60), {}, reasons.NOT_YET_VALID),
    ("expired", ticket(valid_from=NOW_S - 7200, valid_until=NOW_S), {}, reasons.EXPIRED),
    ("unlisted code", UNLISTED_CODE, {}, reasons.UNKNOWN_TICKET),
    ("mistyped code", BAD_DIGIT_CODE, {}, reasons.BAD_CHECK_DIGIT),
    ("any event gate", ticket(event_id=18), {"event_ids": frozenset()}, reasons.ADMITTED),
]


@pytest.mark.parametrize(
    ("text", "overrides", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_decision_table(
    store: KioskStore, text: str, overrides: dict[str, object], reason: str
) -> None:
    decision = decide(text, store.view(), policy(**overrides), NOW_MS, True)
    assert decision.reason == reason, decision.detail
    assert decision.admitted == (reason == reasons.ADMITTED)
    assert not decision.offline


def test_admitted_signed_ticket_carries_its_facts(store: KioskStore) -> None:
    decision = decide(ticket(), store.view(), policy(), NOW_MS, True)
    assert (decision.ticket_key, decision.ticket_id, decision.event_id) == ("t:100234", 100_234, 17)
    assert (decision.entry_no, decision.direction, decision.code_hash) == (1, "in", None)


def test_admitted_code_is_keyed_by_its_ticket(store: KioskStore) -> None:
    decision = decide(KNOWN_CODE, store.view(), policy(), NOW_MS, True)
    assert decision.ticket_key == f"t:{CODE_TICKET}"
    assert decision.code_hash == hash_code(KNOWN_CODE, SALT)


def test_code_without_salt_is_unknown(tmp_path: Path) -> None:
    with KioskStore(tmp_path / "bare.db") as bare:
        assert (
            decide(KNOWN_CODE, bare.view(), policy(), NOW_MS, True).reason == reasons.UNKNOWN_TICKET
        )


def test_revoked_signed_and_typed(store: KioskStore) -> None:
    revoke(store, 100_234, CODE_TICKET)
    assert decide(ticket(), store.view(), policy(), NOW_MS, True).reason == reasons.REVOKED
    assert decide(KNOWN_CODE, store.view(), policy(), NOW_MS, True).reason == reasons.REVOKED
    assert decide(ticket(ticket_id=7), store.view(), policy(), NOW_MS, True).admitted


def test_revocation_is_checked_before_use_counts(store: KioskStore) -> None:
    admit_and_record(store, ticket(), NOW_MS, "s1")
    revoke(store, 100_234)
    assert decide(ticket(), store.view(), policy(), NOW_MS + 60_000, True).reason == reasons.REVOKED


def test_already_used_after_its_entries(store: KioskStore) -> None:
    assert admit_and_record(store, ticket(entries=2), NOW_MS, "s1").entry_no == 1
    assert admit_and_record(store, ticket(entries=2), NOW_MS + 1, "s2").entry_no == 2
    third = decide(ticket(entries=2), store.view(), policy(), NOW_MS + 2, True)
    assert third.reason == reasons.ALREADY_USED


def test_unlimited_ticket_is_never_used_up(store: KioskStore) -> None:
    for number in range(5):
        assert admit_and_record(store, ticket(entries=0), NOW_MS + number, f"s{number}").admitted


def test_policy_entries_override_the_ticket(store: KioskStore) -> None:
    admit_and_record(store, ticket(entries=5), NOW_MS, "s1")
    again = decide(ticket(entries=5), store.view(), policy(max_entries=1), NOW_MS + 1, True)
    assert again.reason == reasons.ALREADY_USED


def test_hard_passback_refuses_a_second_entry_without_exit(store: KioskStore) -> None:
    gate = policy(anti_passback="hard")
    admit_and_record(store, ticket(entries=0), NOW_MS, "s1", gate_policy=gate)
    assert (
        decide(ticket(entries=0), store.view(), gate, NOW_MS + 1, True).reason == reasons.PASSBACK
    )


def test_soft_passback_admits_and_flags(store: KioskStore) -> None:
    gate = policy(anti_passback="soft")
    admit_and_record(store, ticket(entries=0), NOW_MS, "s1", gate_policy=gate)
    second = decide(ticket(entries=0), store.view(), gate, NOW_MS + 1, True)
    assert second.admitted and "soft passback" in second.detail


def test_exit_enables_reentry(store: KioskStore) -> None:
    admit_and_record(store, ticket(), NOW_MS, "s1")
    out = admit_and_record(store, ticket(), NOW_MS + 1000, "s2", direction="out")
    assert out.admitted and out.direction == "out" and out.entry_no is None
    back = decide(ticket(), store.view(), policy(), NOW_MS + 2000, True)
    assert back.admitted and back.entry_no == 2


def test_no_reentry_when_the_policy_forbids_it(store: KioskStore) -> None:
    gate = policy(reentry_after_exit=False)
    admit_and_record(store, ticket(), NOW_MS, "s1", gate_policy=gate)
    admit_and_record(store, ticket(), NOW_MS + 1000, "s2", gate_policy=gate, direction="out")
    assert decide(ticket(), store.view(), gate, NOW_MS + 2000, True).reason == reasons.ALREADY_USED


def test_exit_gate_policy_direction(store: KioskStore) -> None:
    decision = decide(ticket(), store.view(), policy(direction="out"), NOW_MS, True)
    assert decision.admitted and decision.direction == "out"


def test_annulled_admission_does_not_count(store: KioskStore) -> None:
    admit_and_record(store, ticket(), NOW_MS, "s1")
    store.annul_admission("s1")
    assert decide(ticket(), store.view(), policy(), NOW_MS + 1, True).admitted


@pytest.mark.parametrize("mode", ["locked", "maintenance"])
def test_locked_modes(store: KioskStore, mode: str) -> None:
    store.set_mode(mode)
    decision = decide(ticket(), store.view(), policy(), NOW_MS, True)
    assert decision.reason == reasons.GATE_LOCKED and not decision.admitted


def test_free_passage_admits_everything_and_keeps_the_ticket(store: KioskStore) -> None:
    store.set_mode("free")
    garbage = decide("nonsense", store.view(), policy(), NOW_MS, True)
    assert garbage.admitted and garbage.ticket_key is None and garbage.reason == reasons.ADMITTED
    expired = decide(
        ticket(valid_until=NOW_S - 60, valid_from=NOW_S - 120), store.view(), policy(), NOW_MS, True
    )
    assert expired.admitted and expired.ticket_key == "t:100234" and expired.entry_no == 1


def test_offline_admit_uses_the_local_store(store: KioskStore) -> None:
    decision = decide(ticket(), store.view(), policy(offline_action="admit"), NOW_MS, False)
    assert decision.admitted and decision.offline


def test_offline_deny(store: KioskStore) -> None:
    decision = decide(ticket(), store.view(), policy(offline_action="deny"), NOW_MS, False)
    assert decision.reason == reasons.OFFLINE_POLICY and decision.offline
    online = decide(ticket(), store.view(), policy(offline_action="deny"), NOW_MS, True)
    assert online.admitted


def test_offline_signed_only(store: KioskStore) -> None:
    gate = policy(offline_action="admit_signed_only")
    assert decide(ticket(), store.view(), gate, NOW_MS, False).admitted
    assert decide(KNOWN_CODE, store.view(), gate, NOW_MS, False).reason == reasons.OFFLINE_POLICY


def test_forgery_is_not_reported_as_offline_or_expired(store: KioskStore) -> None:
    forged = ticket(OTHER_KEY, valid_until=NOW_S - 60, valid_from=NOW_S - 120)
    gate = policy(offline_action="deny")
    assert decide(forged, store.view(), gate, NOW_MS, False).reason == reasons.BAD_SIGNATURE


def test_decision_becomes_a_valid_scan_message(store: KioskStore) -> None:
    decision = decide(ticket(), store.view(), policy(), NOW_MS, True)
    scan = decision.scan_message(
        scan_id="north-1.000001", gate=GATE, seq=1, scanned_at=NOW_MS, ts=NOW_MS
    )
    assert messages.decode(messages.encode(scan)) == scan
    rejected = decide("junk", store.view(), policy(), NOW_MS, False)
    scan = rejected.scan_message(
        scan_id="north-1.000002", gate=GATE, seq=2, scanned_at=NOW_MS, ts=NOW_MS
    )
    assert (scan.decision, scan.reason, scan.offline) == ("rejected", reasons.MALFORMED, True)


@pytest.fixture(scope="module")
def shared_view(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoreView]:
    with make_store(tmp_path_factory.mktemp("decide") / "kiosk.db") as opened:
        yield opened.view()


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=400), link_up=st.booleans())
def test_decide_never_raises(shared_view: StoreView, text: str, link_up: bool) -> None:
    decision = decide(text, shared_view, policy(), NOW_MS, link_up)
    assert decision.reason in reasons.ALL_REASONS
    assert decision.admitted == (decision.reason == reasons.ADMITTED)


_BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
GENUINE = ticket(entries=0)


@settings(max_examples=400)
@given(position=st.integers(0, len(GENUINE) - 1), replacement=st.sampled_from(_BASE45))
def test_one_changed_character_never_admits(
    shared_view: StoreView, position: int, replacement: str
) -> None:
    forged = GENUINE[:position] + replacement + GENUINE[position + 1 :]
    if forged == GENUINE:
        return
    decision = decide(
        forged, shared_view, policy(event_ids=frozenset(), zones=frozenset()), NOW_MS, True
    )
    assert not decision.admitted


def test_genuine_base_of_the_forgery_test_admits(shared_view: StoreView) -> None:
    assert decide(GENUINE, shared_view, policy(), NOW_MS, True).admitted
