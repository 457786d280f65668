"""HTTP fallback for list catch-up: fetch the server's snapshot when MQTT does not deliver.

When the kiosk learns that a list is behind the site's (the retained ``list_announce`` differs,
or a delta was refused with ``gap`` or ``digest_mismatch``), it republishes its status and the
server answers on the gate's ``lists`` topic (SPEC.md, list flow). If that answer has not made
the list current within ``server.catchup_timeout`` seconds (the server's bridge is down, the
broker dropped the messages), :class:`HttpCatchup` fetches the list's snapshot from
``GET {server.url}/api/v1/fleet/lists/{list}/snapshot?chunk=N`` with HTTP Basic (the kiosk's
MQTT username and password) and applies it through :func:`kiosk.lists.apply_update`: every
chunk is staged durably and the staged list is swapped in atomically when the last chunk is in,
with the digest checked first, so a failed or interrupted fetch leaves the live list untouched.

:class:`CatchupWatch` is the pure part (which lists are overdue, with the clock passed in);
:class:`SnapshotClient` is the HTTP edge; :class:`HttpCatchup` is the thread that joins them,
with its own store connection, so a slow server never holds up the scan loop or the link.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from kiosk import lists
from kiosk.store import KioskStore, ListVersion
from protocol import messages
from protocol.messages import ListUpdate, MessageError

log = logging.getLogger(__name__)

SNAPSHOT_PATH = "/api/v1/fleet/lists/{list}/snapshot"
#: fetch attempts when the list changes on the server between chunks
MAX_RESTARTS = 3


class CatchupError(Exception):
    """The snapshot could not be fetched or used (server unreachable, refused, bad answer)."""


@dataclass(frozen=True, slots=True)
class _Target:
    version: int
    digest: str
    #: monotonic seconds after which the HTTP fallback runs
    due_at: float


def is_current(held: ListVersion, version: int, digest: str) -> bool:
    """Whether the kiosk's list is at (or past) the site's ``version`` with its digest."""
    return held.version > version or (held.version == version and held.digest == digest)


class CatchupWatch:
    """Which lists are behind, and since when; a list is due ``timeout`` seconds after it was
    first found behind, unless it became current meanwhile. Not thread-safe."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._targets: dict[str, _Target] = {}

    def behind(self, name: str, version: int, digest: str, now: float) -> None:
        """The site holds ``version`` (``digest``) of list ``name``; the newest target counts,
        the first deadline stays."""
        earlier = self._targets.get(name)
        due_at = earlier.due_at if earlier is not None else now + self.timeout
        if earlier is not None and earlier.version > version:
            version, digest = earlier.version, earlier.digest
        self._targets[name] = _Target(version, digest, due_at)

    def due(self, held: Mapping[str, ListVersion], now: float) -> list[str]:
        """Lists to fetch now; lists that became current are dropped."""
        for name, target in list(self._targets.items()):
            if name in held and is_current(held[name], target.version, target.digest):
                del self._targets[name]
        return sorted(name for name, target in self._targets.items() if target.due_at <= now)

    def retry_later(self, name: str, now: float) -> None:
        """A fetch failed or did not make the list current: try again after another timeout."""
        target = self._targets.get(name)
        if target is not None:
            self._targets[name] = _Target(target.version, target.digest, now + self.timeout)

    def next_due_in(self, now: float) -> float | None:
        if not self._targets:
            return None
        return max(0.0, min(target.due_at for target in self._targets.values()) - now)


class SnapshotClient:
    """``GET`` snapshot chunks from the server as the kiosk (HTTP Basic)."""

    def __init__(
        self,
        server_url: str,
        username: str,
        password: str,
        *,
        timeout: float = 15.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._base = server_url.rstrip("/")
        self._client = httpx.Client(auth=(username, password), timeout=timeout, transport=transport)

    def chunk(self, name: str, index: int) -> ListUpdate | None:
        """Chunk ``index`` of list ``name``; None when the server has no such chunk (404: the
        list is empty at version 0). Raises CatchupError for anything else."""
        url = self._base + SNAPSHOT_PATH.format(list=name)
        try:
            response = self._client.get(url, params={"chunk": index})
        except httpx.HTTPError as exc:
            raise CatchupError(f"cannot reach {url}: {exc}") from exc
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise CatchupError(f"{url} answered {response.status_code}")
        try:
            update = messages.decode(response.content)
        except MessageError as exc:
            raise CatchupError(
                f"{url} answered something that is not a list update: {exc}"
            ) from exc
        if not isinstance(update, ListUpdate) or not update.snapshot or update.list != name:
            raise CatchupError(f"{url} answered a {update.KIND} that is not a {name} snapshot")
        return update

    def close(self) -> None:
        self._client.close()


def fetch_snapshot(store: KioskStore, client: SnapshotClient, name: str) -> lists.ApplyResult:
    """Fetch every chunk of list ``name`` and apply them; raises CatchupError.

    Chunks name the version and digest they belong to; when those change between chunks (the
    list changed on the server meanwhile) the fetch starts again, at most ``MAX_RESTARTS``
    times. ``kiosk.lists`` stages the chunks and swaps the list in only when all are there.
    """
    for _ in range(MAX_RESTARTS):
        first = client.chunk(name, 0)
        if first is None:
            raise CatchupError(f"the server has no {name} to send")
        result = lists.apply_update(store, first)
        for index in range(1, first.chunks):
            chunk = client.chunk(name, index)
            if chunk is None or (chunk.to_version, chunk.digest, chunk.chunks) != (
                first.to_version,
                first.digest,
                first.chunks,
            ):
                break  # the list changed under us: start again
            result = lists.apply_update(store, chunk)
        else:
            if not result.ok:
                raise CatchupError(f"{name} snapshot refused: {result.outcome} {result.detail}")
            return result
    raise CatchupError(f"{name} kept changing on the server while fetching it")


class HttpCatchup:
    """The fallback thread. ``behind()`` is called from the link worker; ``on_applied`` runs
    after a snapshot made a list current (the kiosk then republishes its status)."""

    def __init__(
        self,
        store_path: Path,
        client: SnapshotClient,
        timeout: float,
        *,
        on_applied: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store_path = store_path
        self._client = client
        self._watch = CatchupWatch(timeout)
        self._on_applied = on_applied
        self._clock = clock
        self._lock = threading.Lock()
        self._changed = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kiosk-catchup", daemon=True)
        self.fetched = 0
        self.failures = 0

    def behind(self, name: str, version: int, digest: str) -> None:
        """The site holds ``version`` of list ``name``; fetch it if MQTT has not delivered it in
        time."""
        with self._lock:
            self._watch.behind(name, version, digest, self._clock())
        self._changed.set()

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self._changed.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._client.close()

    def _run(self) -> None:
        store = KioskStore(self._store_path)
        try:
            while not self._stopping.is_set():
                with self._lock:
                    wait = self._watch.next_due_in(self._clock())
                self._changed.wait(wait)
                self._changed.clear()
                if not self._stopping.is_set():
                    self._fetch_due(store)
        finally:
            store.close()

    def _fetch_due(self, store: KioskStore) -> None:
        held = {name: store.list_version(name) for name in messages.LIST_NAMES}
        with self._lock:
            due = self._watch.due(held, self._clock())
        for name in due:
            try:
                result = fetch_snapshot(store, self._client, name)
            except Exception as exc:  # a bad server answer must not end the thread
                self.failures += 1
                log.warning("HTTP catch-up of %s failed: %s", name, exc)
                with self._lock:
                    self._watch.retry_later(name, self._clock())
                continue
            self.fetched += 1
            log.info("%s caught up over HTTP: version %d", name, result.version)
            with self._lock:
                self._watch.retry_later(name, self._clock())  # dropped once current
            self._on_applied()
        if due:
            self._changed.set()  # look again: drops the lists that are current now
