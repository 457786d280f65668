"""``admit keys``: generate ticket signing keys, sign and verify credentials by hand."""

import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import click

from protocol.credential import TicketClaims
from protocol.reasons import Rejection
from protocol.signing import KeyFormatError, Keyring, SigningKey, sign_ticket, verify_ticket

_ISO_HELP = "ISO 8601 with a UTC offset, e.g. 2026-05-01T09:00+08:00 or 2026-05-01T01:00Z"


@click.group(name="keys")
def keys() -> None:
    """Generate and inspect ticket signing keys (Ed25519).

    \b
    Rotation: generate a key with a new --key-id, add its public key to every
    kiosk's keyring, sign new tickets with it, and retire the old key id once
    the last ticket it signed has expired.

    \b
    A keyring file is JSON: {"<key id>": "<base64 public key>", ...};
    null as a value marks a retired key id.
    """


@keys.command()
@click.option("--key-id", type=click.IntRange(0, 255), required=True, help="Key id, 0..255.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Private key file to create (default: ticket-key-<ID>.key). Never overwritten.",
)
def generate(key_id: int, out: Path | None) -> None:
    """Create a new signing key.

    Writes the private key to a new file readable only by you (mode 0600) and
    prints the public key as a keyring JSON entry for the kiosks.
    """
    key = SigningKey.generate(key_id)
    path = out if out is not None else Path(f"ticket-key-{key_id}.key")
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise click.ClickException(f"{path} exists; refusing to overwrite a key") from None
    except OSError as exc:
        raise click.ClickException(f"cannot create {path}: {exc.strerror}") from None
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(key.to_text() + "\n")
    click.echo(json.dumps({str(key_id): key.public_key_text()}))
    click.echo(f"private key written to {path} (mode 0600): keep it on the server only", err=True)


@keys.command()
@click.argument("key_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def show(key_file: Path) -> None:
    """Print a private key file's key id and public key (as a keyring JSON entry)."""
    key = _load_key(key_file)
    click.echo(json.dumps({str(key.key_id): key.public_key_text()}))


@keys.command()
@click.option(
    "--key",
    "key_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="Private key file (from 'admit keys generate').",
)
@click.option("--ticket-id", type=click.IntRange(0), required=True, help="Ticket id.")
@click.option("--event-id", type=click.IntRange(0), required=True, help="Event id.")
@click.option(
    "--zone", type=click.IntRange(0), default=0, show_default=True, help="Ticket type/zone."
)
@click.option("--valid-from", default=None, help=f"Start of validity (default: none). {_ISO_HELP}.")
@click.option("--valid-until", default=None, help="End of validity, exclusive (default: open).")
@click.option(
    "--entries", type=click.IntRange(0), default=0, show_default=True, help="0 = unlimited."
)
def sign(
    key_file: Path,
    ticket_id: int,
    event_id: int,
    zone: int,
    valid_from: str | None,
    valid_until: str | None,
    entries: int,
) -> None:
    """Print a signed credential text (the content of a ticket's QR code).

    Times are whole minutes; they are stored as minutes since 2024-01-01Z.
    """
    key = _load_key(key_file)
    claims = TicketClaims(
        ticket_id=ticket_id,
        event_id=event_id,
        zone=zone,
        valid_from=_unix_seconds(valid_from, "--valid-from"),
        valid_until=_unix_seconds(valid_until, "--valid-until"),
        entries=entries,
        key_id=key.key_id,
    )
    try:
        text = sign_ticket(claims, key)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(text)


@keys.command()
@click.option(
    "--keyring",
    "keyring_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="Keyring JSON file of trusted public keys.",
)
@click.option(
    "--now", default=None, help=f"Judge the window at this time (default: now). {_ISO_HELP}."
)
@click.argument("text", required=False)
def verify(keyring_file: Path, now: str | None, text: str | None) -> None:
    """Check a credential TEXT (or stdin): admitted, or the rejection reason.

    Exits 1 when the credential is rejected. Put -- before a TEXT that
    starts with '-'.
    """
    keyring = _load_keyring(keyring_file)
    if text is None:
        text = sys.stdin.read()
    moment = _unix_seconds(now, "--now") if now is not None else time.time()
    verdict = verify_ticket(text, keyring, now=moment)
    if isinstance(verdict, Rejection):
        click.echo(f"rejected: {verdict.reason} ({verdict.detail})")
        sys.exit(1)
    claims = verdict.claims
    click.echo(
        f"admitted: ticket {claims.ticket_id} event {claims.event_id} zone {claims.zone} "
        f"entries {claims.entries or 'unlimited'} key {claims.key_id} "
        f"valid {_iso(claims.valid_from, 'any time')} .. {_iso(claims.valid_until, 'open')}"
    )


def _load_key(path: Path) -> SigningKey:
    try:
        return SigningKey.from_text(path.read_text(encoding="ascii"))
    except (KeyFormatError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{path}: {exc}") from None


def _load_keyring(path: Path) -> Keyring:
    try:
        return Keyring.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (KeyFormatError, ValueError) as exc:
        raise click.ClickException(f"{path}: not a keyring: {exc}") from None


def _unix_seconds(text: str | None, option: str) -> int:
    if text is None:
        return 0
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"not a time: {text!r} ({_ISO_HELP})", param_hint=option) from None
    if moment.tzinfo is None:
        raise click.BadParameter(f"{text!r} has no UTC offset ({_ISO_HELP})", param_hint=option)
    return int(moment.timestamp())


def _iso(seconds: int, unset: str) -> str:
    if not seconds:
        return unset
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%MZ")
