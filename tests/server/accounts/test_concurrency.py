"""A login code is used once even when several requests present it at the same instant."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from server.accounts import auth
from server.accounts.auth import IssuedToken
from server.clock import ManualClock
from server.db import Database
from server.errors import Unauthorized
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
