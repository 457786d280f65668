"""Login codes under concurrency: a code is used once even when several requests present it at
the same instant, and the sending limits (per phone, per client address, the resend interval)
hold exactly when many requests arrive at once, against the real database."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from sqlalchemy import func, select

from server.accounts import auth
from server.accounts.auth import IssuedToken
from server.accounts.models import OneTimeCode
from server.clock import ManualClock
from server.db import Database
from server.errors import RateLimited, Unauthorized
from server.settings import Settings
from server.sms import OutboxSmsSender

PHONE = "+8613800138000"


def test_one_code_presented_ten_times_at_once_gives_one_token(
    database: Database, settings: Settings, clock: ManualClock
) -> None:
    outbox = OutboxSmsSender()
    with database.sessions.begin() as session:
        auth.request_login_code(
            session,
            settings,
            outbox,
            phone_text=PHONE,
            client_ip="127.0.0.1",
            language="en",
            now=clock(),
        )
    message = outbox.last_to(PHONE)
    assert message is not None
    code = message.text.split("code is ")[1][:6]
    start = threading.Barrier(10)

    def verify() -> IssuedToken | None:
        start.wait()
        try:
            with database.sessions.begin() as session:
                return auth.verify_login_code(
                    session, settings, phone_text=PHONE, code=code, merchant_id=None, now=clock()
                )
        except Unauthorized:
            return None

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda _: verify(), range(10)))
    assert sum(result is not None for result in results) == 1


def _send_at_once(
    database: Database,
    settings: Settings,
    outbox: OutboxSmsSender,
    now: datetime,
    requests: list[tuple[str, str]],
) -> list[str]:
    """Fire one code request per (phone, client address) at the same instant, each in its own
    write transaction as the endpoint's; what each got: ``sent`` or the error code."""
    start = threading.Barrier(len(requests))

    def send(request: tuple[str, str]) -> str:
        phone, client_ip = request
        start.wait()
        try:
            with database.sessions.begin() as session:
                auth.request_login_code(
                    session,
                    settings,
                    outbox,
                    phone_text=phone,
                    client_ip=client_ip,
                    language="en",
                    now=now,
                )
        except RateLimited as refused:
            return refused.code
        return "sent"

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(send, requests))


def _codes_stored(database: Database) -> int:
    with database.sessions() as session:
        return session.scalar(select(func.count()).select_from(OneTimeCode)) or 0


def test_the_daily_limit_per_phone_holds_exactly_under_concurrent_requests(
    database: Database, settings: Settings, clock: ManualClock
) -> None:
    """Two codes short of the limit, twelve requests at once: two are sent, ten refused."""
    limits = settings.model_copy(
        update={"otp_resend_interval": timedelta(0), "otp_daily_limit_per_phone": 5}
    )
    outbox = OutboxSmsSender()
    for n in range(3):
        assert _send_at_once(database, limits, outbox, clock(), [(PHONE, f"10.0.0.{n}")]) == [
            "sent"
        ]
    addresses = [(PHONE, f"10.0.1.{n}") for n in range(12)]
    results = _send_at_once(database, limits, outbox, clock(), addresses)
    assert sorted(results) == ["rate_limited"] * 10 + ["sent"] * 2
    assert len(outbox.messages) == 5
    assert _codes_stored(database) == 5


def test_the_resend_interval_holds_under_concurrent_requests(
    database: Database, settings: Settings, clock: ManualClock
) -> None:
    outbox = OutboxSmsSender()
    results = _send_at_once(database, settings, outbox, clock(), [(PHONE, "10.0.0.1")] * 8)
    assert sorted(results) == ["accounts.code_too_soon"] * 7 + ["sent"]
    assert len(outbox.messages) == 1


def test_the_hourly_limit_per_address_holds_exactly_under_concurrent_requests(
    database: Database, settings: Settings, clock: ManualClock
) -> None:
    """Many phones behind one address: the address gets exactly its hourly limit of codes."""
    limits = settings.model_copy(update={"otp_hourly_limit_per_ip": 4})
    outbox = OutboxSmsSender()
    phones = [(f"+86138001380{n:02d}", "203.0.113.9") for n in range(12)]
    results = _send_at_once(database, limits, outbox, clock(), phones)
    assert sorted(results) == ["rate_limited"] * 8 + ["sent"] * 4
    assert len(outbox.messages) == 4
    assert _codes_stored(database) == 4
