"""The sandbox provider's signed notifications: only the signer's exact bytes verify."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.payments.providers import (
    NONCE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    CallbackRejected,
    CashProvider,
    SandboxProvider,
    sign,
)

NOW = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
SANDBOX = SandboxProvider(b"k" * 32)


def _notification(**overrides: object) -> tuple[dict[str, str], bytes]:
    fields: dict[str, object] = {
        "reference": "20250301abc",
        "provider_txn_id": "tx-1",
        "amount_fen": 8800,
        "currency": "CNY",
        "now": NOW,
        **overrides,
    }
    return SANDBOX.notification(**fields)  # type: ignore[arg-type]


def test_a_signed_notification_verifies() -> None:
    headers, body = _notification()
    notice = SANDBOX.verify_notification(headers, body, NOW + timedelta(seconds=3))
    assert (notice.reference, notice.provider_txn_id, notice.amount_fen) == (
        "20250301abc",
        "tx-1",
        8800,
    )
    assert notice.succeeded and notice.nonce == headers[NONCE_HEADER]


def test_another_key_does_not_verify() -> None:
    headers, body = SandboxProvider(b"other").notification(
        reference="r", provider_txn_id="t", amount_fen=1, currency="CNY", now=NOW
    )
    with pytest.raises(CallbackRejected):
        SANDBOX.verify_notification(headers, body, NOW)


@pytest.mark.parametrize("offset", [timedelta(minutes=-6), timedelta(minutes=6)])
def test_stale_or_future_timestamps_are_refused(offset: timedelta) -> None:
    headers, body = _notification()
    with pytest.raises(CallbackRejected):
        SANDBOX.verify_notification(headers, body, NOW + offset)


@pytest.mark.parametrize("missing", [TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER])
def test_missing_headers_are_refused(missing: str) -> None:
    headers, body = _notification()
    del headers[missing]
    with pytest.raises(CallbackRejected):
        SANDBOX.verify_notification(headers, body, NOW)


@given(position=st.integers(min_value=0), flip=st.integers(min_value=1, max_value=255))
def test_any_changed_byte_of_the_body_is_refused(position: int, flip: int) -> None:
    headers, body = _notification()
    index = position % len(body)
    tampered = body[:index] + bytes([body[index] ^ flip]) + body[index + 1 :]
    with pytest.raises(CallbackRejected):
        SANDBOX.verify_notification(headers, tampered, NOW)


@given(st.binary(max_size=200), st.text(max_size=20))
def test_arbitrary_input_is_rejected_never_crashes(body: bytes, nonce: str) -> None:
    headers = {TIMESTAMP_HEADER: str(int(NOW.timestamp())), NONCE_HEADER: nonce}
    headers[SIGNATURE_HEADER] = "x"
    with pytest.raises(CallbackRejected):
        SANDBOX.verify_notification(headers, body, NOW)


def test_a_validly_signed_but_malformed_body_is_refused() -> None:
    timestamp, nonce, body = str(int(NOW.timestamp())), "n1", b'{"amount": "lots"}'
    headers = {
        TIMESTAMP_HEADER: timestamp,
        NONCE_HEADER: nonce,
        SIGNATURE_HEADER: sign(SANDBOX.secret, timestamp, nonce, body),
    }
    with pytest.raises(CallbackRejected):
        SANDBOX.verify_notification(headers, body, NOW)


def test_cash_has_no_callbacks() -> None:
    with pytest.raises(CallbackRejected):
        CashProvider().verify_notification({}, b"{}", NOW)
