"""Credential figures: text length, QR version, and sign / verify / parse rates on one core.

Run: ``.venv/bin/python bench/credential.py [--seconds N]``. Single process, single thread,
``time.perf_counter``; each rate is measured over a fixed time slice after a short warm-up.
"""

import argparse
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cryptography
import segno

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from machine_info import cpu_model

from protocol import signing
from protocol.credential import TicketClaims, parse, signed_message
from protocol.reasons import Rejection
from protocol.signing import Keyring, SigningKey, sign_ticket, verify_ticket

#: A realistic ticket: id ~ 10**7, event id ~ 10**4, one zone, valid for one day, one entry.
DAY0 = 1767225600  # 2026-01-01T00:00Z
REALISTIC = TicketClaims(12_345_678, 4_321, 2, DAY0, DAY0 + 86_400, 1, key_id=1)
#: pretix's signed tickets are 116-140 characters in QR byte mode; 120 is a typical one.
PRETIX_LIKE = "x" * 120


def rate(operation: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``operation`` over about ``seconds`` (after a 0.2 s warm-up)."""
    for deadline, counting in ((0.2, False), (seconds, True)):
        calls = 0
        start = time.perf_counter()
        while True:
            for _ in range(100):
                operation()
            calls += 100
            elapsed = time.perf_counter() - start
            if elapsed >= deadline:
                break
        if counting:
            return calls / elapsed
    raise AssertionError("unreachable")


def qr_version(text: str) -> tuple[int, str]:
    symbol = segno.make_qr(text, error="m", boost_error=False)
    return int(symbol.version), str(symbol.mode)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measured rate")
    seconds = parser.parse_args().seconds

    key = SigningKey.generate(1)
    keyring = Keyring()
    keyring.add(1, key.public_key_text())
    text = sign_ticket(REALISTIC, key)
    version, mode = qr_version(text)
    pretix_version, pretix_mode = qr_version(PRETIX_LIKE)

    print(
        f"machine                {cpu_model()}, Python {platform.python_version()}, "
        f"cryptography {cryptography.__version__}"
    )
    print(f"claims                 {REALISTIC!r}")
    print(f"credential             {len(text)} characters: {text!r}")
    print(
        f"QR (level M)           version {version} ({mode}); a {len(PRETIX_LIKE)}-character "
        f"pretix-like text: version {pretix_version} ({pretix_mode})"
    )

    parsed = parse(text)
    assert not isinstance(parsed, Rejection), parsed
    message = signed_message(parsed.payload)
    public_key = key.public_key()
    raw = keyring.raw(1)
    assert raw is not None
    print(f"verify backend         {signing.VERIFY_BACKEND} (libsodium when PyNaCl is installed)")
    checks = [
        ("sign", lambda: sign_ticket(REALISTIC, key)),
        ("verify", lambda: verify_ticket(text, keyring)),
        ("parse", lambda: parse(text)),
        # The floors under verify/s: each library's Ed25519 check alone, no parsing.
        (
            "raw OpenSSL verify",
            lambda: signing.verify_with_openssl(public_key, raw, parsed.signature, message),
        ),
    ]
    if signing.VERIFY_BACKEND == "libsodium":
        checks.append(
            (
                "raw libsodium verify",
                lambda: signing.verify_with_libsodium(public_key, raw, parsed.signature, message),
            )
        )
    for name, operation in checks:
        print(f"{name + '/s':<22} {rate(operation, seconds):,.0f}")


if __name__ == "__main__":
    main()
