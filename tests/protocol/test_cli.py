import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from protocol.cli import keys
from protocol.signing import Keyring, SigningKey, VerifiedTicket, verify_ticket


def generate(runner: CliRunner, tmp_path: Path, key_id: int = 4) -> tuple[Path, Path]:
    key_file = tmp_path / "signing.key"
    result = runner.invoke(keys, ["generate", "--key-id", str(key_id), "--out", str(key_file)])
    assert result.exit_code == 0, result.output
    keyring_file = tmp_path / "keyring.json"
    keyring_file.write_text(result.stdout, encoding="utf-8")
    return key_file, keyring_file


def sign(runner: CliRunner, key_file: Path, *extra: str) -> str:
    result = runner.invoke(
        keys,
        ["sign", "--key", str(key_file), "--ticket-id", "12345678", "--event-id", "4321", *extra],
    )
    assert result.exit_code == 0, result.output
    return result.stdout.rstrip("\n")


def test_generate_writes_a_private_file_and_prints_the_keyring_entry(tmp_path: Path) -> None:
    runner = CliRunner()
    key_file, keyring_file = generate(runner, tmp_path)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = SigningKey.from_text(key_file.read_text(encoding="ascii"))
    assert json.loads(keyring_file.read_text(encoding="utf-8")) == {"4": key.public_key_text()}


def test_generate_never_overwrites_a_key(tmp_path: Path) -> None:
    runner = CliRunner()
    key_file, _ = generate(runner, tmp_path)
    before = key_file.read_text(encoding="ascii")
    result = runner.invoke(keys, ["generate", "--key-id", "4", "--out", str(key_file)])
    assert result.exit_code != 0
    assert "refusing to overwrite" in result.output
    assert key_file.read_text(encoding="ascii") == before


def test_generate_defaults_to_a_file_named_after_the_key_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(keys, ["generate", "--key-id", "12"])
    assert result.exit_code == 0, result.output
    assert SigningKey.from_text((tmp_path / "ticket-key-12.key").read_text("ascii")).key_id == 12


def test_show_prints_the_public_key(tmp_path: Path) -> None:
    runner = CliRunner()
    key_file, keyring_file = generate(runner, tmp_path)
    result = runner.invoke(keys, ["show", str(key_file)])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == json.loads(keyring_file.read_text(encoding="utf-8"))


def test_sign_then_verify(tmp_path: Path) -> None:
    runner = CliRunner()
    key_file, keyring_file = generate(runner, tmp_path)
    text = sign(
        runner,
        key_file,
        "--zone",
        "2",
        "--valid-from",
        "2026-01-01T08:00+08:00",
        "--valid-until",
        "2026-01-02T00:00Z",
        "--entries",
        "1",
    )
    keyring = Keyring.from_dict(json.loads(keyring_file.read_text(encoding="utf-8")))
    verified = verify_ticket(text, keyring)
    assert isinstance(verified, VerifiedTicket)
    assert (verified.claims.zone, verified.claims.entries) == (2, 1)
    result = runner.invoke(
        keys, ["verify", "--keyring", str(keyring_file), "--now", "2026-01-01T12:00Z", "--", text]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "admitted: ticket 12345678 event 4321 zone 2 entries 1 key 4 "
        "valid 2026-01-01T00:00Z .. 2026-01-02T00:00Z\n"
    )


def test_verify_reads_stdin_and_exits_1_on_rejection(tmp_path: Path) -> None:
    runner = CliRunner()
    key_file, keyring_file = generate(runner, tmp_path)
    text = sign(runner, key_file, "--valid-until", "2026-01-02T00:00Z")
    result = runner.invoke(
        keys,
        ["verify", "--keyring", str(keyring_file), "--now", "2026-01-03T00:00+00:00"],
        input=text + "\n",
    )
    assert result.exit_code == 1
    assert result.stdout.startswith("rejected: expired")


def test_verify_with_another_keyring_is_rejected(tmp_path: Path) -> None:
    runner = CliRunner()
    key_file, _ = generate(runner, tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    _, other_keyring = generate(runner, other)
    text = sign(runner, key_file)
    result = runner.invoke(keys, ["verify", "--keyring", str(other_keyring), "--", text])
    assert result.exit_code == 1
    assert result.stdout.startswith("rejected: bad_signature")


def test_times_without_utc_offset_are_refused(tmp_path: Path) -> None:
    runner = CliRunner()
    key_file, _ = generate(runner, tmp_path)
    result = runner.invoke(
        keys,
        [
            "sign",
            "--key",
            str(key_file),
            "--ticket-id",
            "1",
            "--event-id",
            "2",
            "--valid-from",
            "2026-01-01T08:00",
        ],
    )
    assert result.exit_code == 2
    assert "no UTC offset" in result.output


def test_unencodable_claims_are_a_clear_error(tmp_path: Path) -> None:
    runner = CliRunner()
    key_file, _ = generate(runner, tmp_path)
    result = runner.invoke(
        keys,
        [
            "sign",
            "--key",
            str(key_file),
            "--ticket-id",
            "1",
            "--event-id",
            "2",
            "--valid-from",
            "2026-01-01T08:00:30Z",
        ],
    )
    assert result.exit_code == 1
    assert "whole minute" in result.output


def test_bad_key_and_keyring_files_are_clear_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    junk = tmp_path / "junk"
    junk.write_text("not a key\n", encoding="ascii")
    result = runner.invoke(keys, ["show", str(junk)])
    assert result.exit_code == 1
    assert "not an Admit ticket key" in result.output
    result = runner.invoke(keys, ["verify", "--keyring", str(junk), "--", "ABC"])
    assert result.exit_code == 1
    assert "not a keyring" in result.output


def test_help_explains_rotation_and_keyring_format() -> None:
    result = CliRunner().invoke(keys, ["--help"])
    assert result.exit_code == 0
    assert "Rotation" in result.output
    assert "retired" in result.output
