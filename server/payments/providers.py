"""Payment providers: the interface, the offline/cash provider and a signed sandbox provider.

A provider turns a :class:`~server.payments.models.Payment` into what the payer needs to pay,
checks the signature of its asynchronous notifications, and refunds. The sandbox signs its
notifications the way WeChat Pay (API v3) and Alipay do: a timestamp and a random nonce travel
in headers, and the signature covers ``timestamp\\nnonce\\nbody\\n``; here the key is an HMAC
secret instead of the provider's RSA certificate, so a real provider slots in by implementing
the same three methods.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from server.errors import BadRequest
from server.settings import Settings

CASH = "cash"
SANDBOX = "sandbox"

#: Notifications older or newer than this are refused (their nonce may have been forgotten).
REPLAY_WINDOW = timedelta(minutes=5)
#: Room for clocks of server instances to differ: the one pruning nonces may run ahead of the
#: one checking a notification's timestamp.
CLOCK_MARGIN = timedelta(minutes=5)
#: How long a notification's nonce is kept after the time it was signed: past
#: ``REPLAY_WINDOW`` the timestamp check alone refuses a replay; ``CLOCK_MARGIN`` is to spare.
NONCE_RETENTION = REPLAY_WINDOW + CLOCK_MARGIN

TIMESTAMP_HEADER = "x-sandbox-timestamp"
NONCE_HEADER = "x-sandbox-nonce"
SIGNATURE_HEADER = "x-sandbox-signature"


class CallbackRejected(BadRequest):
    """A notification that is not provably from the provider (bad or missing signature, stale
    timestamp, malformed body). Answered 400 and never changes a payment."""

    default_code = "payments.callback_rejected"


@dataclass(frozen=True)
class PaymentNotice:
    """A verified notification: the provider says transaction ``provider_txn_id`` paid (or
    failed to pay) ``amount_fen`` for our payment ``reference``."""

    reference: str
    provider_txn_id: str
    amount_fen: int
    currency: str
    succeeded: bool
    nonce: str
    sent_at: datetime


class PaymentProvider(Protocol):
    name: str

    def checkout(self, reference: str, amount_fen: int, currency: str) -> dict[str, Any]:
        """What the payer's client needs to pay (a QR URL, app parameters, an instruction)."""
        ...

    def verify_notification(
        self, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> PaymentNotice:
        """The notice in a callback, or :class:`CallbackRejected` if it cannot be trusted."""
        ...

    def refund(self, reference: str, provider_txn_id: str | None, amount_fen: int) -> str:
        """Return ``amount_fen`` of a settled payment; the provider's refund id."""
        ...


class CashProvider:
    """Money taken at the counter: staff mark the payment paid; nothing calls back."""

    name = CASH

    def checkout(self, reference: str, amount_fen: int, currency: str) -> dict[str, Any]:
        return {"instruction": "pay_at_counter", "reference": reference}

    def verify_notification(
        self, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> PaymentNotice:
        raise CallbackRejected(detail={"reason": "cash payments have no callbacks"})

    def refund(self, reference: str, provider_txn_id: str | None, amount_fen: int) -> str:
        return f"cash-refund-{reference}-{secrets.token_hex(4)}"


def sign(secret: bytes, timestamp: str, nonce: str, body: bytes) -> str:
    """Base64 HMAC-SHA256 over ``timestamp\\nnonce\\nbody\\n`` (WeChat Pay v3's message)."""
    message = timestamp.encode() + b"\n" + nonce.encode() + b"\n" + body + b"\n"
    return base64.b64encode(hmac.new(secret, message, hashlib.sha256).digest()).decode()


class SandboxProvider:
    """A stand-in for WeChat Pay/Alipay with signed, replay-protected notifications."""

    name = SANDBOX

    def __init__(self, secret: bytes) -> None:
        self.secret = secret

    @classmethod
    def from_settings(cls, settings: Settings) -> SandboxProvider:
        key = hmac.new(settings.resolved_secret_key(), b"payments.sandbox", hashlib.sha256)
        return cls(key.digest())

    def checkout(self, reference: str, amount_fen: int, currency: str) -> dict[str, Any]:
        return {
            "reference": reference,
            "amount_fen": amount_fen,
            "currency": currency,
            "pay_url": f"sandbox://pay/{reference}",
        }

    def notification(
        self,
        *,
        reference: str,
        provider_txn_id: str,
        amount_fen: int,
        currency: str,
        now: datetime,
        succeeded: bool = True,
        nonce: str | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """The headers and body the sandbox sends when a payment completes (tests, demo)."""
        body = json.dumps(
            {
                "out_trade_no": reference,
                "transaction_id": provider_txn_id,
                "amount": {"total": amount_fen, "currency": currency},
                "trade_state": "SUCCESS" if succeeded else "PAYERROR",
            },
            separators=(",", ":"),
        ).encode()
        timestamp = str(int(now.timestamp()))
        nonce = nonce or secrets.token_hex(16)
        headers = {
            TIMESTAMP_HEADER: timestamp,
            NONCE_HEADER: nonce,
            SIGNATURE_HEADER: sign(self.secret, timestamp, nonce, body),
        }
        return headers, body

    def verify_notification(
        self, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> PaymentNotice:
        lowered = {key.lower(): value for key, value in headers.items()}
        timestamp = lowered.get(TIMESTAMP_HEADER, "")
        nonce = lowered.get(NONCE_HEADER, "")
        signature = lowered.get(SIGNATURE_HEADER, "")
        if not (timestamp and nonce and signature) or len(nonce) > 64:
            raise CallbackRejected(detail={"reason": "missing signature headers"})
        expected = sign(self.secret, timestamp, nonce, body)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise CallbackRejected(detail={"reason": "bad signature"})
        try:
            sent_at = datetime.fromtimestamp(int(timestamp), UTC)
        except (ValueError, OverflowError, OSError) as exc:
            raise CallbackRejected(detail={"reason": "bad timestamp"}) from exc
        if abs(now - sent_at) > REPLAY_WINDOW:
            raise CallbackRejected(detail={"reason": "timestamp outside the replay window"})
        return _parse_sandbox_body(body, nonce, sent_at)

    def refund(self, reference: str, provider_txn_id: str | None, amount_fen: int) -> str:
        return f"sandbox-refund-{secrets.token_hex(8)}"


def nonce_prune_cutoff(now: datetime) -> datetime:
    """Nonces of notifications signed before this moment may be forgotten at ``now``: any
    replay of them, now or later, is outside ``REPLAY_WINDOW`` and refused by its timestamp."""
    return now - NONCE_RETENTION


def _parse_sandbox_body(body: bytes, nonce: str, sent_at: datetime) -> PaymentNotice:
    try:
        data = json.loads(body)
        amount = data["amount"]
        notice = PaymentNotice(
            reference=str(data["out_trade_no"]),
            provider_txn_id=str(data["transaction_id"]),
            amount_fen=amount["total"],
            currency=str(amount["currency"]),
            succeeded=data["trade_state"] == "SUCCESS",
            nonce=nonce,
            sent_at=sent_at,
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise CallbackRejected(detail={"reason": "malformed body"}) from exc
    if type(notice.amount_fen) is not int or not notice.reference or not notice.provider_txn_id:
        raise CallbackRejected(detail={"reason": "malformed body"})
    if len(notice.reference) > 40 or len(notice.provider_txn_id) > 64:
        raise CallbackRejected(detail={"reason": "malformed body"})
    return notice


def make_providers(settings: Settings) -> dict[str, PaymentProvider]:
    """Every provider this server offers, by name."""
    return {CASH: CashProvider(), SANDBOX: SandboxProvider.from_settings(settings)}
