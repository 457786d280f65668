"""Sales under load: no oversell with 200 concurrent buyers, and orders per second.

    .venv/bin/python bench/sales.py [--buyers 200] [--stock 100] [--orders 2000] [--threads 8]

Buyers are threads, each with its own database session, calling the sales service layer
(``server.sales.service.place_orders``: validation, the conditional stock ``UPDATE``, the order
and its item) directly, not HTTP. Runs on a fresh SQLite file and, when reachable, on PostgreSQL
(``ADMIT_TEST_DATABASE_URL`` or ``postgresql://postgres@127.0.0.1:5432/test``) in a private
schema that is dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from machine_info import describe_machine
from sqlalchemy import text

from server.accounts import repository as accounts_repo
from server.accounts.models import MerchantStatus
from server.catalog.models import Event, TicketType, Venue
from server.db import Base, Database, make_engine, normalize_database_url
from server.errors import Conflict
from server.features import import_all_models
from server.sales import service
from server.sales.settings import SalesSettings

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
CONFIG = SalesSettings()
GOAL_ORDERS_PER_SECOND = 100


@dataclass(frozen=True)
class Shop:
    user_id: int
    ticket_type_id: int


def seed(database: Database, stock: int, now: datetime) -> Shop:
    with database.sessions.begin() as session:
        user = accounts_repo.add_user(
            session, phone=f"+8613{uuid.uuid4().int % 10**9:09d}", now=now
        )
        merchant = accounts_repo.add_merchant(
            session,
            name="Bench",
            contact_name="",
            contact_phone=user.phone,
            status=MerchantStatus.ACTIVE,
            events_public=True,
            now=now,
        )
        venue = Venue(
            merchant_id=merchant.id,
            slug=f"bench-{uuid.uuid4().hex[:8]}",
            name="Bench",
            created_at=now,
        )
        session.add(venue)
        session.flush()
        event = Event(
            merchant_id=merchant.id,
            venue_id=venue.id,
            name="Bench",
            starts_at=now,
            ends_at=now + timedelta(days=1),
            public=True,
            created_at=now,
            updated_at=now,
        )
        session.add(event)
        session.flush()
        ticket_type = TicketType(
            merchant_id=merchant.id,
            event_id=event.id,
            name="Adult",
            price_fen=8800,
            currency="CNY",
            is_free=False,
            stock=stock,
            sold=0,
            per_order_limit=10,
            enabled=True,
            hide_remaining=False,
            needs_visit_date=False,
            holder_fields={},
            approval_required=False,
            entries_allowed=1,
            restock_on_refund=False,
            created_at=now,
            updated_at=now,
        )
        session.add(ticket_type)
        session.flush()
        return Shop(user.id, ticket_type.id)


def buy_once(database: Database, shop: Shop, now: datetime) -> bool:
    try:
        with database.sessions.begin() as session:
            request = service.TicketRequest(shop.ticket_type_id)
            service.place_orders(session, shop.user_id, [request], now, CONFIG)
    except Conflict:
        return False
    return True


def race(database: Database, buyers: int, stock: int) -> tuple[int, int]:
    """``buyers`` threads released at once for ``stock`` tickets: (sold, sold counter)."""
    now = datetime.now(UTC)
    shop = seed(database, stock, now)
    start = threading.Barrier(buyers)
    results: list[bool] = []
    lock = threading.Lock()

    def buyer() -> None:
        start.wait()
        bought = buy_once(database, shop, now)
        with lock:
            results.append(bought)

    threads = [threading.Thread(target=buyer) for _ in range(buyers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with database.sessions() as session:
        counter = session.get_one(TicketType, shop.ticket_type_id).sold
    return sum(results), counter


def throughput(database: Database, orders: int, threads: int) -> float:
    """Orders per second placing ``orders`` one-ticket orders from ``threads`` threads."""
    now = datetime.now(UTC)
    shop = seed(database, orders, now)
    per_thread = orders // threads
    failures: list[int] = []

    def worker() -> None:
        failed = sum(0 if buy_once(database, shop, now) else 1 for _ in range(per_thread))
        failures.append(failed)

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    started = time.perf_counter()
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    elapsed = time.perf_counter() - started
    if sum(failures):
        raise RuntimeError(f"{sum(failures)} orders failed with stock to spare")
    return per_thread * threads / elapsed


@contextmanager
def sqlite_database() -> Iterator[Database]:
    with tempfile.TemporaryDirectory() as folder:
        database = Database.connect(f"sqlite:///{folder}/bench.sqlite3")
        Base.metadata.create_all(database.engine)
        try:
            yield database
        finally:
            database.dispose()


@contextmanager
def postgres_database(base_url: str) -> Iterator[Database]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(base_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base_url else "?"
    url = f"{normalize_database_url(base_url)}{separator}options=-csearch_path%3D{schema}"
    database = Database.connect(url)
    try:
        Base.metadata.create_all(database.engine)
        yield database
    finally:
        database.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def postgres_reachable(url: str) -> bool:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
    finally:
        engine.dispose()


def run(name: str, database: Database, args: argparse.Namespace) -> None:
    sold, counter = race(database, args.buyers, args.stock)
    verdict = "OK" if sold == counter == args.stock else "OVERSOLD/UNDERSOLD"
    print(
        f"{name}: {args.buyers} concurrent buyers for {args.stock} tickets -> "
        f"{sold} orders, counter {counter} [{verdict}]"
    )
    rate = throughput(database, args.orders, args.threads)
    goal = "meets" if rate >= GOAL_ORDERS_PER_SECOND else "misses"
    print(
        f"{name}: {rate:,.0f} orders/s ({args.orders} orders, {args.threads} threads; "
        f"{goal} the goal of {GOAL_ORDERS_PER_SECOND}/s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--buyers", type=int, default=200)
    parser.add_argument("--stock", type=int, default=100)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    import_all_models()
    print(f"machine: {describe_machine()}")
    print("method: threads with their own sessions through the sales service layer (no HTTP)")
    with sqlite_database() as database:
        run("sqlite", database, args)
    postgres_url = os.environ.get("ADMIT_TEST_DATABASE_URL", DEFAULT_POSTGRES)
    if postgres_reachable(postgres_url):
        with postgres_database(postgres_url) as database:
            run("postgresql", database, args)
    else:
        print(f"postgresql: not reachable at {postgres_url}; skipped")


if __name__ == "__main__":
    main()
