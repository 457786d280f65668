"""List updates: deltas, chunked snapshots (resumable, atomic), digests checked before commit."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.lists import (
    Outcome,
    apply_update,
    audit,
    discard_staging,
    may_roll_back,
    missing_chunks,
)
from kiosk.store import KioskStore
from protocol.allowlist import ListDigest
from protocol.messages import ListUpdate


def entry(number: int) -> str:
    return f"{number:032x}"


def update(
    add: list[str],
    to_version: int,
    digest_of: set[str] | str,
    *,
    remove: list[str] | None = None,
    from_version: int | None = None,
    chunk: int = 0,
    chunks: int = 1,
    list_name: str = "allowlist",
    meta: dict[str, object] | None = None,
) -> ListUpdate:
    snapshot = from_version is None
    digest = digest_of if isinstance(digest_of, str) else ListDigest.of(digest_of).hex()
    return ListUpdate(
        list=list_name,
        site="expo-hall",
        scope=None,
        snapshot=snapshot,
        from_version=from_version or 0,
        to_version=to_version,
        add=add,
        remove=remove or [],
        digest=digest,
        chunk=chunk,
        chunks=chunks,
        meta=meta,
        ts=1,
    )


def contents(store: KioskStore) -> set[str]:
    return {row[0] for row in store.db.execute("SELECT entry FROM allowlist").fetchall()}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[KioskStore]:
    with KioskStore(tmp_path / "kiosk.db") as opened:
        yield opened


def seeded(store: KioskStore, count: int = 10, version: int = 5) -> set[str]:
    entries = {entry(n) for n in range(count)}
    assert apply_update(store, update(sorted(entries), version, entries)).outcome == Outcome.APPLIED
    return entries


def test_snapshot_in_one_chunk(store: KioskStore) -> None:
    entries = seeded(store)
    assert contents(store) == entries
    assert audit(store, "allowlist") == audit(store, "allowlist", recount=True)
    assert audit(store, "allowlist").count == 10 and audit(store, "allowlist").version == 5


def test_meta_becomes_ticket_facts(store: KioskStore) -> None:
    facts = {"ticket_id": 9, "event_id": 17, "zone": 2, "entries": 3}
    apply_update(store, update([entry(1)], 1, {entry(1)}, meta={entry(1): facts}))
    found = store.allowlist_entry(entry(1))
    assert found is not None and (found.ticket_id, found.event_id, found.zone, found.entries) == (
        9,
        17,
        2,
        3,
    )


def test_delta_applies_and_duplicates_are_ignored(store: KioskStore) -> None:
    entries = seeded(store)
    after = (entries - {entry(0)}) | {entry(100)}
    delta = update([entry(100)], 6, after, remove=[entry(0)], from_version=5)
    assert apply_update(store, delta).outcome == Outcome.APPLIED
    assert apply_update(store, delta).outcome == Outcome.DUPLICATE
    assert contents(store) == after
    assert audit(store, "allowlist") == audit(store, "allowlist", recount=True)


def test_gap_is_refused(store: KioskStore) -> None:
    entries = seeded(store)
    result = apply_update(store, update([entry(100)], 8, entries | {entry(100)}, from_version=7))
    assert (result.outcome, result.ok, result.version) == (Outcome.GAP, False, 5)
    assert contents(store) == entries


def test_delta_digest_mismatch_rolls_back(store: KioskStore) -> None:
    entries = seeded(store)
    wrong = update([entry(100)], 6, entries | {entry(101)}, remove=[entry(0)], from_version=5)
    result = apply_update(store, wrong)
    assert result.outcome == Outcome.DIGEST_MISMATCH and not result.ok
    assert contents(store) == entries
    assert audit(store, "allowlist").version == 5
    assert audit(store, "allowlist") == audit(store, "allowlist", recount=True)


def test_snapshot_digest_mismatch_keeps_the_old_list(store: KioskStore) -> None:
    entries = seeded(store)
    fresh = {entry(n) for n in range(50, 60)}
    bad = ListDigest.of(fresh | {entry(1)}).hex()
    first = apply_update(store, update(sorted(fresh)[:5], 9, bad, chunks=2))
    assert first.outcome == Outcome.STAGED
    result = apply_update(store, update(sorted(fresh)[5:], 9, bad, chunk=1, chunks=2))
    assert result.outcome == Outcome.DIGEST_MISMATCH
    assert contents(store) == entries and audit(store, "allowlist").version == 5
    assert missing_chunks(store, "allowlist") == ()


def test_interrupted_chunked_snapshot_resumes(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.db"
    entries = sorted({entry(n) for n in range(30)})
    chunks = [entries[0:10], entries[10:20], entries[20:30]]
    digest = ListDigest.of(entries).hex()
    with KioskStore(path) as store:
        assert apply_update(
            store, update(chunks[2], 3, digest, chunk=2, chunks=3)
        ).missing_chunks == (0, 1)
        assert (
            apply_update(store, update(chunks[0], 3, digest, chunk=0, chunks=3)).outcome
            == Outcome.STAGED
        )
        assert contents(store) == set()
    with KioskStore(path) as store:
        assert missing_chunks(store, "allowlist") == (1,)
        again = apply_update(store, update(chunks[0], 3, digest, chunk=0, chunks=3))
        assert again.outcome == Outcome.DUPLICATE
        done = apply_update(store, update(chunks[1], 3, digest, chunk=1, chunks=3))
        assert done.outcome == Outcome.APPLIED and done.version == 3
        assert contents(store) == set(entries)
        assert audit(store, "allowlist") == audit(store, "allowlist", recount=True)


def test_new_snapshot_version_restarts_staging(store: KioskStore) -> None:
    old = [entry(1), entry(2)]
    apply_update(store, update(old[:1], 2, set(old), chunks=2))
    new = [entry(7), entry(8)]
    apply_update(store, update(new[:1], 3, set(new), chunks=2))
    result = apply_update(store, update(new[1:], 3, set(new), chunk=1, chunks=2))
    assert result.outcome == Outcome.APPLIED and contents(store) == set(new)


def test_entries_repeated_across_chunks_count_once(store: KioskStore) -> None:
    entries = {entry(n) for n in range(6)}
    apply_update(store, update([entry(0), entry(1), entry(2), entry(3)], 2, entries, chunks=2))
    done = apply_update(
        store, update([entry(3), entry(4), entry(5), entry(5)], 2, entries, chunk=1, chunks=2)
    )
    assert done.outcome == Outcome.APPLIED and audit(store, "allowlist").count == 6


def test_snapshot_of_the_current_list_is_a_duplicate(store: KioskStore) -> None:
    entries = seeded(store)
    assert apply_update(store, update(sorted(entries), 5, entries)).outcome == Outcome.DUPLICATE


def test_resync_to_the_same_version_replaces_a_drifted_list(store: KioskStore) -> None:
    seeded(store)
    right = {entry(n) for n in range(3)}
    assert apply_update(store, update(sorted(right), 5, right)).outcome == Outcome.APPLIED
    assert contents(store) == right


def test_discard_staging(store: KioskStore) -> None:
    apply_update(store, update([entry(1)], 2, {entry(1), entry(2)}, chunks=2))
    discard_staging(store, "allowlist")
    assert missing_chunks(store, "allowlist") == ()


def test_revocations(store: KioskStore) -> None:
    assert apply_update(
        store, update(["100234", "7"], 1, {"100234", "7"}, list_name="revocations")
    ).ok
    assert store.is_revoked(100234) and store.is_revoked(7) and not store.is_revoked(8)
    delta = update([], 2, {"7"}, remove=["100234"], from_version=1, list_name="revocations")
    assert apply_update(store, delta).outcome == Outcome.APPLIED
    assert not store.is_revoked(100234)
    assert audit(store, "revocations") == audit(store, "revocations", recount=True)


@pytest.mark.parametrize(
    "bad",
    [
        update(["12a"], 1, {"12a"}, list_name="revocations"),
        update(["007"], 1, {"007"}, list_name="revocations"),
        update([entry(1)], 1, {entry(1)}, meta={entry(1): {"ticket_id": -1}}),
        update([entry(1)], 1, {entry(1)}, meta={entry(1): {"zone": "2"}}),
        update([entry(1)], 1, "abc"),
    ],
)
def test_malformed_updates_change_nothing(store: KioskStore, bad: ListUpdate) -> None:
    result = apply_update(store, bad)
    assert result.outcome == Outcome.MALFORMED and not result.ok
    assert audit(store, bad.list).version == 0 and missing_chunks(store, bad.list) == ()


def test_thousand_entry_delta(store: KioskStore) -> None:
    rng = random.Random(7)
    entries = {entry(rng.getrandbits(128)) for _ in range(5000)}
    apply_update(store, update(sorted(entries), 1, entries))
    removed = set(rng.sample(sorted(entries), 500))
    added = {entry(rng.getrandbits(128)) for _ in range(500)}
    after = (entries - removed) | added
    meta: dict[str, object] = {
        e: {"ticket_id": n, "entries": 1} for n, e in enumerate(sorted(added))
    }
    delta = update(sorted(added), 2, after, remove=sorted(removed), from_version=1, meta=meta)
    assert apply_update(store, delta).outcome == Outcome.APPLIED
    assert contents(store) == after
    assert audit(store, "allowlist") == audit(store, "allowlist", recount=True)
    assert audit(store, "allowlist").count == len(after)
    some = sorted(added)[0]
    looked_up = store.allowlist_entry(some)
    assert looked_up is not None and looked_up.ticket_id == 0


def test_an_older_snapshot_is_a_duplicate_unless_rollback_is_allowed(store: KioskStore) -> None:
    """The server's database was restored: its list is back at version 2. The snapshot it sends
    replaces the kiosk's version 5 only when rollback is allowed (the announce names it), in
    chunks like any snapshot, and later deltas from version 2 apply."""
    seeded(store)
    restored = sorted({entry(n) for n in range(20, 24)})
    digest = ListDigest.of(restored).hex()
    first = update(restored[:2], 2, digest, chunks=2)
    second = update(restored[2:], 2, digest, chunk=1, chunks=2)
    assert apply_update(store, first).outcome == Outcome.DUPLICATE
    assert apply_update(store, first, allow_rollback=True).outcome == Outcome.STAGED
    done = apply_update(store, second, allow_rollback=True)
    assert (done.outcome, done.version) == (Outcome.APPLIED, 2)
    assert contents(store) == set(restored)
    after = sorted({*restored, entry(30)})
    delta = update([entry(30)], 3, set(after), from_version=2)
    assert apply_update(store, delta).outcome == Outcome.APPLIED
    assert contents(store) == set(after)


SNAPSHOT_DIGEST = "ab" * 32
OTHER_DIGEST = "cd" * 32


@pytest.mark.parametrize(
    ("snapshot", "to_version", "held", "site_head", "expected"),
    [
        (True, 2, 5, (2, SNAPSHOT_DIGEST), True),  # the site went back to exactly this list
        (True, 2, 5, (5, SNAPSHOT_DIGEST), False),  # stale: the site is where the kiosk is
        (True, 2, 5, (2, OTHER_DIGEST), False),  # same version, another list: not this one
        (True, 2, 5, None, False),  # no announce seen yet
        (True, 5, 5, (5, SNAPSHOT_DIGEST), False),  # not older: the usual rules apply
        (False, 2, 5, (2, SNAPSHOT_DIGEST), False),  # deltas never roll back
    ],
)
def test_rollback_only_to_the_announced_head(
    snapshot: bool,
    to_version: int,
    held: int,
    site_head: tuple[int, str] | None,
    expected: bool,
) -> None:
    message = update([], to_version, SNAPSHOT_DIGEST, from_version=None if snapshot else 1)
    assert may_roll_back(message, held, site_head) is expected
