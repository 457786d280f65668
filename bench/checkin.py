"""Check-in API latency at a fixed arrival rate (goal: p99 <= 20 ms at 200 requests/s).

    .venv/bin/python bench/checkin.py [--rate 200] [--duration 10] [--code-share 0.2]
                                      [--workers 1 2] [--limit-concurrency 200]
                                      [--client raw|httpx] [--no-postgres]

The server runs as it does in production: ``admit server`` (uvicorn, JSON logs with an access
line per request, here into a file) in a subprocess on a free port (once per ``--workers``
value, default 1 and 2), on a fresh database seeded with one
merchant, one checker and a ticket for every request (so every request is a real admission
that writes its log row and moves the ticket's counter). The load is open-loop: requests start
on a fixed schedule whether or not earlier ones have answered, so a slow server shows up as
queueing, and each latency is measured from the request's scheduled start (no coordinated
omission). Most requests scan a signed
credential (``POST /api/merchant/checkin/scan``: Ed25519 verification with the merchant's
keyring); ``--code-share`` of them type a 12-digit code (``POST .../code``).

Runs on a fresh SQLite file and, when reachable, on PostgreSQL (``ADMIT_TEST_DATABASE_URL`` or
``postgresql://postgres@127.0.0.1:5432/test``) in a private schema dropped afterwards. The load
generator shares the machine's cores with the server, so the figures are an upper bound; it is
a minimal keep-alive HTTP/1.1 client on uvloop (about 0.5 ms of CPU per request, where httpx
took 3-4 ms, more than the server: ``--client httpx`` measures the old way). It ends with a
table of every run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, cast

import httpx
from machine_info import describe_machine
from sqlalchemy import text

from server.accounts import auth
from server.accounts import repository as accounts_repo
from server.accounts.models import MerchantRole, MerchantStatus
from server.cli import DEFAULT_LIMIT_CONCURRENCY
from server.db import Base, Database, make_engine, normalize_database_url
from server.features import import_all_models
from server.settings import Settings
from server.tickets import service as tickets_service

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
GOAL_P99_MS = 20.0
WARMUP_REQUESTS = 100
#: Connections the load generator keeps open at most (requests beyond wait for one).
MAX_CONNECTIONS = 256
SECRET_KEY = "bench-checkin-secret"
REPO_ROOT = Path(__file__).resolve().parent.parent


# --- seeding -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchTicketType:
    id: int = 1
    event_id: int = 1
    entries_allowed: int = 1
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    zone_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class BenchItem:
    id: int
    ticket_type: BenchTicketType = field(default_factory=BenchTicketType)
    holder_name: str = "Bench"
    holder_phone: str | None = None
    holder_fields: dict[str, str] = field(default_factory=dict)
    visit_date: date | None = None


@dataclass(frozen=True)
class BenchOrder:
    """An order of the shape sales hands to ``issue_for_order``."""

    id: int
    merchant_id: int
    items: list[BenchItem]
    visitor_user_id: int | None = None


@dataclass(frozen=True)
class Seeded:
    token: str
    credentials: list[str]
    codes: list[str]


def seed(url: str, tickets: int) -> Seeded:
    """Tables, a merchant with a checker (and their token), and ``tickets`` valid tickets."""
    import_all_models()
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    database = Database.connect(url)
    now = datetime.now(UTC)
    settings = Settings(database_url=url, secret_key=SECRET_KEY)  # type: ignore[arg-type]
    with database.sessions.begin() as session:
        owner = accounts_repo.add_user(session, phone="+8613800000001", now=now)
        checker = accounts_repo.add_user(session, phone="+8613800000002", now=now)
        merchant = accounts_repo.add_merchant(
            session,
            name="Bench",
            contact_name="",
            contact_phone=owner.phone,
            status=MerchantStatus.ACTIVE,
            events_public=True,
            now=now,
        )
        accounts_repo.add_membership(
            session, merchant_id=merchant.id, user_id=owner.id, role=MerchantRole.OWNER, now=now
        )
        membership = accounts_repo.add_membership(
            session,
            merchant_id=merchant.id,
            user_id=checker.id,
            role=MerchantRole.CHECKER,
            now=now,
        )
        token = auth.issue_token(session, settings, checker, membership, now).token
        merchant_id = merchant.id
    credentials: list[str] = []
    codes: list[str] = []
    batch = 500
    for start in range(0, tickets, batch):
        items = [BenchItem(id=start + n + 1) for n in range(min(batch, tickets - start))]
        order = BenchOrder(id=start + 1, merchant_id=merchant_id, items=items)
        with database.sessions.begin() as session:
            for ticket in tickets_service.issue_for_order(session, order, now=now):
                credentials.append(ticket.credential)
                codes.append(ticket.code)
    database.dispose()
    return Seeded(token, credentials, codes)


# --- the server --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running_server(url: str, log_path: Path, workers: int, limit_concurrency: int) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "ADMIT_DATABASE_URL": url,
        "ADMIT_DATABASE_SCHEMA": "none",
        "ADMIT_BACKGROUND_JOBS": "false",
        "ADMIT_SECRET_KEY": SECRET_KEY,
        "ADMIT_DATA_DIR": str(log_path.parent),
        "PYTHONPATH": str(REPO_ROOT),
    }
    command = [
        sys.executable, "-m", "admit_cli", "server",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--limit-concurrency", str(limit_concurrency), "--no-migrate",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=log, cwd=REPO_ROOT)
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(base, process)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_healthy(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the server did not become healthy in 30 s")


# --- the load ----------------------------------------------------------------------------------


@dataclass
class LoadResult:
    latencies_ms: list[float]
    admitted: int
    refused: int
    errors: int
    elapsed_s: float
    first_error: str


def requests_for(seeded: Seeded, count: int, code_share: float) -> list[tuple[str, dict[str, str]]]:
    """One request per ticket; every ``1/code_share``-th one types the code instead."""
    every = round(1 / code_share) if code_share > 0 else 0
    planned: list[tuple[str, dict[str, str]]] = []
    for index in range(count):
        if every and index % every == every - 1:
            planned.append(("/api/merchant/checkin/code", {"code": seeded.codes[index]}))
        else:
            planned.append(
                ("/api/merchant/checkin/scan", {"credential": seeded.credentials[index]})
            )
    return planned


class _Tally:
    """What the answers were (failed requests count in the latencies too, until they failed)."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.outcome = {"admitted": 0, "refused": 0, "errors": 0}
        self.first_error: list[str] = []

    def answer(self, status: int, body: bytes, scheduled: float) -> None:
        if status != 200:
            self.error(f"{status} {body[:200].decode('utf-8', 'replace')}")
        elif json.loads(body)["admitted"]:
            self.outcome["admitted"] += 1
        else:
            self.outcome["refused"] += 1
        self.latencies.append((time.perf_counter() - scheduled) * 1000)

    def failure(self, error: str, scheduled: float) -> None:
        self.error(error)
        self.latencies.append((time.perf_counter() - scheduled) * 1000)

    def error(self, text: str) -> None:
        self.outcome["errors"] += 1
        self.first_error.append(text)

    def result(self, elapsed: float) -> LoadResult:
        return LoadResult(
            self.latencies,
            self.outcome["admitted"],
            self.outcome["refused"],
            self.outcome["errors"],
            elapsed,
            self.first_error[0] if self.first_error else "",
        )


async def _open_loop(
    planned: list[tuple[str, dict[str, str]]],
    rate: float,
    send: Callable[[int, float], Coroutine[Any, Any, None]],
) -> float:
    """Start request ``index`` at ``start + index / rate`` whatever the earlier ones are doing;
    the seconds from the first start to the last answer."""
    tasks: list[asyncio.Task[None]] = []
    start = time.perf_counter() + 0.05
    for index in range(len(planned)):
        scheduled = start + index / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(index, scheduled)))
    await asyncio.gather(*tasks)
    return time.perf_counter() - start


class HttpConnection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection to the server: one request at a time, the answer
    framed by its ``Content-Length`` (the only framing the API's JSON answers use)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.answer: asyncio.Future[tuple[int, bytes]] | None = None
        self.reusable = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCP transports are asyncio.Transport in all but their class.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0 or self.answer is None or self.answer.done():
            return
        lines = bytes(self.buffer[:head_end]).decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip().lower()
        if "content-length" not in headers:
            self.answer.set_exception(ValueError(f"an answer without Content-Length: {lines[0]}"))
            return
        end = head_end + 4 + int(headers["content-length"])
        if len(self.buffer) < end:
            return
        body = bytes(self.buffer[head_end + 4 : end])
        del self.buffer[:end]
        self.reusable = headers.get("connection") != "close"
        self.answer.set_result((int(lines[0].split(" ", 2)[1]), body))

    def connection_lost(self, exc: Exception | None) -> None:
        self.reusable = False
        if self.answer is not None and not self.answer.done():
            self.answer.set_exception(ConnectionError(f"the server closed the connection: {exc}"))

    @property
    def open(self) -> bool:
        """Still usable for another request (the server may close an idle connection)."""
        return self.reusable and self.transport is not None and not self.transport.is_closing()

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        assert self.transport is not None
        self.answer = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return await self.answer


async def run_load(
    base: str, token: str, planned: list[tuple[str, dict[str, str]]], rate: float
) -> LoadResult:
    """The open-loop load with a minimal HTTP/1.1 client: every request is encoded before the
    clock starts and answers are parsed no further than the status and ``admitted``, so the
    generator takes as little as it can of the CPU it shares with the server (httpx costs about
    2.8 ms of CPU per request here, more than the server itself)."""
    host, port = base.removeprefix("http://").split(":")
    encoded = []
    for path, body in planned:
        payload = json.dumps(body).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        )
        encoded.append(head.encode() + payload)
    tally = _Tally()
    # Idle connections are reused oldest first, so the load spreads over every connection (and
    # so over the server's worker processes, which each accepted some of them), as it does from
    # many checkers' phones.
    idle: deque[HttpConnection] = deque()
    slots = asyncio.Semaphore(MAX_CONNECTIONS)
    loop = asyncio.get_running_loop()

    async def send(index: int, scheduled: float) -> None:
        async with slots:
            try:
                while idle and not idle[0].open:
                    idle.popleft()
                if idle:
                    connection = idle.popleft()
                else:
                    _, connection = await loop.create_connection(HttpConnection, host, int(port))
                status, body = await connection.request(encoded[index])
            except (OSError, ValueError) as exc:
                tally.failure(repr(exc), scheduled)
                return
            if connection.reusable:
                idle.append(connection)
            elif connection.transport is not None:
                connection.transport.close()
            tally.answer(status, body, scheduled)

    elapsed = await _open_loop(planned, rate, send)
    for connection in idle:
        if connection.transport is not None:
            connection.transport.close()
    return tally.result(elapsed)


async def run_load_httpx(
    base: str, token: str, planned: list[tuple[str, dict[str, str]]], rate: float
) -> LoadResult:
    """The same load through httpx (``--client httpx``: what earlier figures used)."""
    tally = _Tally()
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(
        max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS
    )
    async with httpx.AsyncClient(
        base_url=base, headers=headers, limits=limits, timeout=30
    ) as client:

        async def send(index: int, scheduled: float) -> None:
            path, body = planned[index]
            try:
                response = await client.post(path, json=body)
            except httpx.HTTPError as exc:
                tally.failure(repr(exc), scheduled)
                return
            tally.answer(response.status_code, response.content, scheduled)

        elapsed = await _open_loop(planned, rate, send)
    return tally.result(elapsed)


def run(coroutine: Coroutine[Any, Any, LoadResult]) -> LoadResult:
    """Run the load on uvloop when it is installed (uvicorn's standard extra brings it): the
    generator's own loop costs less CPU than asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


@dataclass(frozen=True)
class Row:
    """One line of the closing table."""

    backend: str
    workers: int
    sent: int
    admitted: int
    errors: int
    p50: float
    p90: float
    p99: float
    max: float

    @property
    def verdict(self) -> str:
        return "meets" if self.p99 <= GOAL_P99_MS and not self.errors else "misses"


def bench_backend(
    name: str, url: str, args: argparse.Namespace, workers: int, workdir: Path
) -> Row:
    measured = int(args.rate * args.duration)
    seeded = seed(url, WARMUP_REQUESTS + measured)
    planned = requests_for(seeded, WARMUP_REQUESTS + measured, args.code_share)
    with running_server(
        url, workdir / f"server-{name}-{workers}.log", workers, args.limit_concurrency
    ) as base:
        load = run_load_httpx if args.client == "httpx" else run_load
        run(load(base, seeded.token, planned[:WARMUP_REQUESTS], args.rate))
        result = run(load(base, seeded.token, planned[WARMUP_REQUESTS:], args.rate))
    lat = result.latencies_ms or [float("nan")]
    row = Row(
        name,
        workers,
        measured,
        result.admitted,
        result.errors,
        percentile(lat, 0.50),
        percentile(lat, 0.90),
        percentile(lat, 0.99),
        max(lat),
    )
    print(
        f"{name} with {workers} worker(s): admitted {result.admitted} of {measured} over "
        f"{result.elapsed_s:.1f} s, refused {result.refused}, errors {result.errors}; "
        f"p50 {row.p50:.1f} ms, p99 {row.p99:.1f} ms, mean {statistics.fmean(lat):.1f} ms"
    )
    if result.first_error:
        print(f"  first error: {result.first_error}")
    return row


def print_table(rows: list[Row], rate: float) -> None:
    print()
    print(
        f"| database | workers | rate | admitted | errors | p50 ms | p90 ms | p99 ms | max ms | "
        f"p99 <= {GOAL_P99_MS:.0f} ms |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(
            f"| {row.backend} | {row.workers} | {rate:.0f}/s | {row.admitted}/{row.sent} | "
            f"{row.errors} | {row.p50:.1f} | {row.p90:.1f} | {row.p99:.1f} | {row.max:.1f} | "
            f"{row.verdict} |"
        )


@contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    engine = make_engine(base_url)
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base_url else "?"
    try:
        yield f"{normalize_database_url(base_url)}{separator}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


def postgres_reachable(url: str) -> bool:
    try:
        engine = make_engine(url)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of measured load")
    parser.add_argument("--code-share", type=float, default=0.2, help="share of typed codes")
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1, 2],
        help="uvicorn worker processes; one run per value (default: 1 2)",
    )
    parser.add_argument(
        "--limit-concurrency",
        type=int,
        default=DEFAULT_LIMIT_CONCURRENCY,
        help="uvicorn --limit-concurrency per worker, as `admit server` sets it (0: none)",
    )
    parser.add_argument(
        "--client",
        choices=("raw", "httpx"),
        default="raw",
        help="load generator: a minimal HTTP/1.1 client (default) or httpx (~10x its CPU)",
    )
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    print(f"machine: {describe_machine()}; load average before: {os.getloadavg()[0]:.2f}")
    print(
        f"check-in API, open loop at {args.rate:.0f} requests/s for {args.duration:.0f} s "
        f"(+{WARMUP_REQUESTS} warm-up), {args.code_share:.0%} typed codes, the rest QR scans; "
        f"uvicorn --limit-concurrency {args.limit_concurrency}; latency from each request's "
        "scheduled start. The load generator runs on the same cores as the server."
    )
    postgres = os.environ.get("ADMIT_TEST_DATABASE_URL") or DEFAULT_POSTGRES
    use_postgres = not args.no_postgres and postgres_reachable(postgres)
    if not args.no_postgres and not use_postgres:
        print(f"postgresql: not reachable at {postgres}; skipped")
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="admit-bench-checkin-") as tmp:
        workdir = Path(tmp)
        for workers in args.workers:
            sqlite_url = f"sqlite:///{workdir / f'bench-{workers}.sqlite3'}"
            rows.append(bench_backend("sqlite", sqlite_url, args, workers, workdir))
            if use_postgres:
                with postgres_schema(postgres) as url:
                    rows.append(bench_backend("postgresql", url, args, workers, workdir))
    print_table(rows, args.rate)


if __name__ == "__main__":
    main()
