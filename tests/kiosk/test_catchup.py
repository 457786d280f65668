"""The HTTP catch-up fallback: when lists are due, and fetching a chunked snapshot into the store.

The server side of the HTTP exchange is an ``httpx.MockTransport`` serving snapshot chunks the
way ``GET /api/v1/fleet/lists/{list}/snapshot`` does (the real endpoint is exercised in
``tests/test_end_to_end.py``); the store is a real SQLite store.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.catchup import CatchupError, CatchupWatch, SnapshotClient, fetch_snapshot, is_current
from kiosk.lists import Outcome, apply_update
from kiosk.store import KioskStore, ListVersion
from protocol.allowlist import ListDigest
from protocol.messages import ListUpdate

AUTH = ("kiosk-expo-hall-north-1", "secret")
BASIC = "Basic " + base64.b64encode(":".join(AUTH).encode()).decode()


def _held(version: int, digest: str = "0" * 64) -> ListVersion:
    return ListVersion("revocations", None, version, digest, 0)


# --- the watch --------------------------------------------------------------------------------


def test_a_list_is_due_after_the_timeout_unless_it_became_current() -> None:
    watch = CatchupWatch(timeout=30.0)
    watch.behind("revocations", 5, "ab" * 32, now=100.0)
    watch.behind("allowlist", 9, "cd" * 32, now=110.0)
    held = {"revocations": _held(3), "allowlist": _held(8)}

    assert watch.due(held, now=129.0) == []
    assert watch.next_due_in(now=129.0) == pytest.approx(1.0)
    assert watch.due(held, now=130.0) == ["revocations"]
    held["allowlist"] = _held(9, "cd" * 32)  # MQTT delivered meanwhile
    assert watch.due(held, now=140.0) == ["revocations"]
    assert watch.next_due_in(now=140.0) == 0.0


def test_a_newer_target_keeps_the_first_deadline_and_a_retry_waits_again() -> None:
    watch = CatchupWatch(timeout=30.0)
    watch.behind("revocations", 5, "ab" * 32, now=100.0)
    watch.behind("revocations", 7, "cd" * 32, now=120.0)
    watch.behind("revocations", 6, "ef" * 32, now=125.0)  # older news: ignored

    assert watch.due({"revocations": _held(6, "ef" * 32)}, now=130.0) == ["revocations"]
    watch.retry_later("revocations", now=130.0)
    assert watch.due({"revocations": _held(6)}, now=159.0) == []
    assert watch.due({"revocations": _held(7, "cd" * 32)}, now=200.0) == []
    assert watch.next_due_in(now=200.0) is None


@given(
    held=st.integers(min_value=0, max_value=20),
    site=st.integers(min_value=0, max_value=20),
    same_digest=st.booleans(),
)
def test_current_means_past_the_site_or_at_it_with_its_digest(
    held: int, site: int, same_digest: bool
) -> None:
    digest = "ab" * 32
    mine = _held(held, digest if same_digest else "cd" * 32)
    assert is_current(mine, site, digest) == (held > site or (held == site and same_digest))


# --- fetching ---------------------------------------------------------------------------------


def _chunks(entries: list[str], version: int, size: int) -> list[ListUpdate]:
    digest = ListDigest.of(entries).hex()
    parts = [entries[i : i + size] for i in range(0, len(entries), size)]
    return [
        ListUpdate(
            list="revocations",
            site="expo-hall",
            scope=None,
            snapshot=True,
            from_version=0,
            to_version=version,
            add=part,
            remove=[],
            digest=digest,
            chunk=index,
            chunks=len(parts),
            meta=None,
            ts=1,
        )
        for index, part in enumerate(parts)
    ]


class FakeServer:
    """Serves the chunks of ``snapshots[current]`` to the kiosk's Basic credentials."""

    def __init__(self, snapshots: list[list[ListUpdate]]) -> None:
        self.snapshots = snapshots
        self.current = 0
        self.requests: list[tuple[str, int, str | None]] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        chunk = int(request.url.params["chunk"])
        self.requests.append((request.url.path, chunk, request.headers.get("Authorization")))
        if request.headers.get("Authorization") != BASIC:
            return httpx.Response(401, headers={"WWW-Authenticate": "Basic"})
        chunks = self.snapshots[self.current]
        if chunk >= len(chunks):
            return httpx.Response(404, json={"error": {"code": "not_found"}})
        return httpx.Response(200, content=json.dumps(chunks[chunk].to_dict()).encode())


@pytest.fixture
def store(tmp_path: Path) -> Iterator[KioskStore]:
    with KioskStore(tmp_path / "kiosk.db") as opened:
        yield opened


def _client(handler: Callable[[httpx.Request], httpx.Response]) -> SnapshotClient:
    return SnapshotClient("http://server.test/", *AUTH, transport=httpx.MockTransport(handler))


def _revocations(store: KioskStore) -> set[str]:
    return {row[0] for row in store.db.execute("SELECT ticket_id FROM revocations").fetchall()}


def test_a_chunked_snapshot_replaces_the_list(store: KioskStore) -> None:
    apply_update(store, _chunks(["1"], 1, 10)[0])
    entries = [str(n) for n in range(100, 107)]
    server = FakeServer([_chunks(entries, 9, 3)])

    result = fetch_snapshot(store, _client(server.handle), "revocations")

    assert result.outcome is Outcome.APPLIED and result.version == 9
    assert _revocations(store) == set(entries)
    assert [(path, chunk) for path, chunk, _ in server.requests] == [
        ("/api/v1/fleet/lists/revocations/snapshot", n) for n in range(3)
    ]


def test_a_list_that_changes_between_chunks_is_fetched_again(store: KioskStore) -> None:
    old, new = ["100", "101", "102"], ["100", "101", "102", "103"]
    server = FakeServer([_chunks(old, 4, 2), _chunks(new, 5, 2)])

    def changes_after_first_chunk(request: httpx.Request) -> httpx.Response:
        if len(server.requests) == 1:
            server.current = 1  # a refund lands between chunk 0 and chunk 1
        return server.handle(request)

    result = fetch_snapshot(store, _client(changes_after_first_chunk), "revocations")

    assert result.version == 5
    assert _revocations(store) == set(new)


def test_a_wrong_digest_leaves_the_live_list_alone(store: KioskStore) -> None:
    apply_update(store, _chunks(["1"], 1, 10)[0])
    bad = _chunks(["100", "101"], 3, 1)
    bad = [ListUpdate.from_dict({**c.to_dict(), "digest": "ab" * 32}) for c in bad]

    with pytest.raises(CatchupError, match="digest_mismatch"):
        fetch_snapshot(store, _client(FakeServer([bad]).handle), "revocations")

    assert _revocations(store) == {"1"}
    assert store.list_version("revocations").version == 1


@pytest.mark.parametrize(
    ("response", "problem"),
    [
        (httpx.Response(401), "answered 401"),
        (httpx.Response(503), "answered 503"),
        (httpx.Response(200, content=b"<html>"), "not a list update"),
        (httpx.Response(404), "no revocations"),
    ],
)
def test_bad_answers_are_clear_errors(
    store: KioskStore, response: httpx.Response, problem: str
) -> None:
    with pytest.raises(CatchupError, match=problem):
        fetch_snapshot(store, _client(lambda request: response), "revocations")
    assert store.list_version("revocations").version == 0


def test_an_unreachable_server_is_a_clear_error(store: KioskStore) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(CatchupError, match="cannot reach"):
        fetch_snapshot(store, _client(refuse), "revocations")
