"""Commands and list updates: one result each, with the correlation id; refusals apply nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.commands import (
    BUSY,
    EXPIRED,
    FAILED,
    OUT_OF_ORDER,
    CommandHandler,
    CommandRefused,
    StoreLists,
)
from kiosk.store import KioskStore
from protocol import messages
from protocol.allowlist import ListDigest
from protocol.messages import Command, ListUpdate, MessageError
from protocol.signing import SigningKey

GATE = "north-1"
NOW = 1_748_772_000_000


class FakeGate:
    def __init__(self) -> None:
        self.mode = "normal"
        self.opened: list[tuple[str, str]] = []
        self.busy = False
        self.broken = False

    def set_mode(self, mode: str) -> None:
        if self.broken:
            raise OSError("GPIO gone")
        self.mode = mode

    def open_once(self, direction: str, token: str) -> None:
        if self.busy:
            raise CommandRefused(BUSY)
        self.opened.append((direction, token))


@pytest.fixture
def store(tmp_path: Path) -> KioskStore:
    return KioskStore(tmp_path / "kiosk.db")


@pytest.fixture
def gate() -> FakeGate:
    return FakeGate()


@pytest.fixture
def handler(store: KioskStore, gate: FakeGate) -> CommandHandler:
    return CommandHandler(GATE, gate, StoreLists(store), store, lambda: NOW)


def command(name: str, args: dict[str, object] | None = None, **kw: object) -> Command:
    return Command(
        command_id=kw.pop("command_id", f"cmd-{name}"),  # type: ignore[arg-type]
        name=name,
        args=args or {},
        ts=kw.pop("ts", NOW - 1000),  # type: ignore[arg-type]
        expires_at=kw.pop("expires_at", None),  # type: ignore[arg-type]
    )


def allowlist_delta(from_version: int, entries: list[str], digest: str | None = None) -> ListUpdate:
    return ListUpdate(
        list="allowlist",
        site="expo-hall",
        scope=None,
        snapshot=False,
        from_version=from_version,
        to_version=from_version + 1,
        add=entries,
        remove=[],
        digest=digest or ListDigest.of(entries).hex(),
        chunk=0,
        chunks=1,
        ts=NOW,
    )


@pytest.mark.parametrize(
    ("name", "args", "mode"),
    [
        ("lock", {}, "locked"),
        ("free_passage", {}, "free"),
        ("set_mode", {"mode": "maintenance"}, "maintenance"),
    ],
)
def test_mode_commands_switch_the_gate(
    handler: CommandHandler, gate: FakeGate, name: str, args: dict[str, object], mode: str
) -> None:
    result = handler.handle(command(name, args))
    assert result.ok and result.error is None
    assert result.command_id == f"cmd-{name}" and result.gate == GATE
    assert gate.mode == mode
    assert result.detail == {"mode": mode, "previous": "normal"}


def test_unlock_returns_to_normal(handler: CommandHandler, gate: FakeGate) -> None:
    handler.handle(command("lock", ts=NOW - 2000))
    assert handler.handle(command("unlock", ts=NOW - 1000)).ok
    assert gate.mode == "normal"


def test_open_once_opens_with_the_command_as_token(handler: CommandHandler, gate: FakeGate) -> None:
    result = handler.handle(command("open_once", {"direction": "out"}))
    assert result.ok
    assert gate.opened == [("out", "command:cmd-open_once")]


def test_open_once_on_a_busy_gate_is_refused(handler: CommandHandler, gate: FakeGate) -> None:
    gate.busy = True
    result = handler.handle(command("open_once"))
    assert (result.ok, result.error) == (False, BUSY)


def test_open_once_with_a_bad_direction_is_refused(handler: CommandHandler, gate: FakeGate) -> None:
    result = handler.handle(command("open_once", {"direction": "sideways"}))
    assert result.error == messages.BAD_FIELD and gate.opened == []


def test_an_expired_command_is_refused_and_not_carried_out(
    handler: CommandHandler, gate: FakeGate
) -> None:
    result = handler.handle(command("open_once", expires_at=NOW))
    assert (result.ok, result.error) == (False, EXPIRED)
    assert result.detail == {"expires_at": NOW}
    assert gate.opened == []


def test_an_older_mode_change_cannot_undo_a_newer_one(
    handler: CommandHandler, gate: FakeGate, store: KioskStore
) -> None:
    handler.handle(command("lock", ts=NOW - 1000, command_id="c-new"))
    late = handler.handle(command("unlock", ts=NOW - 5000, command_id="c-old"))
    assert (late.ok, late.error) == (False, OUT_OF_ORDER)
    assert gate.mode == "locked"
    # the order survives a restart: a new handler reads the last mode change from the store
    again = CommandHandler(GATE, gate, StoreLists(store), store, lambda: NOW)
    assert (
        again.handle(command("unlock", ts=NOW - 4000, command_id="c-older")).error == OUT_OF_ORDER
    )


def test_a_redelivered_command_is_answered_again_but_not_repeated(
    handler: CommandHandler, gate: FakeGate
) -> None:
    first = handler.handle(command("open_once"))
    second = handler.handle(command("open_once"))
    assert second == first
    assert len(gate.opened) == 1


def test_a_failing_gate_gives_a_failed_result(handler: CommandHandler, gate: FakeGate) -> None:
    gate.broken = True
    result = handler.handle(command("lock"))
    assert (result.ok, result.error) == (False, FAILED)
    assert "GPIO gone" in str(result.detail["message"])


def test_audit_reports_version_digest_and_count(handler: CommandHandler) -> None:
    entries = ["a1", "b2", "c3"]
    assert handler.handle_list_update(allowlist_delta(0, entries)).ok
    result = handler.handle(command("audit", {"list": "allowlist"}))
    assert result.detail == {
        "list": "allowlist",
        "version": 1,
        "digest": ListDigest.of(entries).hex(),
        "count": 3,
    }


def test_audit_of_an_unknown_list_is_refused(handler: CommandHandler) -> None:
    assert handler.handle(command("audit", {"list": "guests"})).error == messages.BAD_FIELD


def test_resync_reports_the_versions_held(handler: CommandHandler) -> None:
    handler.handle_list_update(allowlist_delta(0, ["a1"]))
    result = handler.handle(command("resync"))
    assert result.detail == {"allowlist": 1, "revocations": 0}


def test_list_update_results_carry_the_update_id(handler: CommandHandler) -> None:
    update = allowlist_delta(0, ["a1"])
    result = handler.handle_list_update(update)
    assert result.command_id == update.id
    assert result.ok and result.detail["outcome"] == "applied" and result.detail["version"] == 1


def test_a_gap_is_refused_so_the_server_resyncs(handler: CommandHandler, store: KioskStore) -> None:
    result = handler.handle_list_update(allowlist_delta(3, ["a1"]))
    assert (result.ok, result.error) == (False, "gap")
    assert store.list_version("allowlist").version == 0


def test_a_digest_mismatch_applies_nothing(handler: CommandHandler, store: KioskStore) -> None:
    result = handler.handle_list_update(allowlist_delta(0, ["a1"], digest="ab" * 32))
    assert result.error == "digest_mismatch"
    assert store.allowlist_entry("a1") is None


def test_a_malformed_command_is_answered_when_its_id_is_readable(handler: CommandHandler) -> None:
    payload = (
        b'{"v":1,"kind":"command","id":"m1","ts":1,"command_id":"cmd-9","name":"explode","args":{}}'
    )
    with pytest.raises(MessageError) as caught:
        messages.decode(payload)
    result = handler.refuse_malformed(caught.value)
    assert result is not None
    assert (result.command_id, result.ok, result.error) == ("cmd-9", False, messages.BAD_FIELD)


def test_an_unreadable_command_gets_no_result(handler: CommandHandler) -> None:
    with pytest.raises(MessageError) as caught:
        messages.decode(b"not json")
    assert handler.refuse_malformed(caught.value) is None


def _public(key_id: int) -> str:
    return SigningKey.generate(key_id).public_key_text()


def test_set_keys_replaces_the_keyring_at_once(handler: CommandHandler, store: KioskStore) -> None:
    store.set_trusted_keys({"1": _public(1)})
    keys = {"1": None, "2": _public(2)}

    result = handler.handle(command("set_keys", {"keys": keys}))

    assert result.ok, result
    assert result.detail == {"trusted": [2], "retired": [1]}
    assert store.trusted_keys().to_dict() == keys


def test_a_bad_keyring_is_refused_and_the_keys_stay(
    handler: CommandHandler, store: KioskStore
) -> None:
    store.set_trusted_keys({"1": _public(1)})
    before = store.trusted_keys().to_dict()

    result = handler.handle(command("set_keys", {"keys": {"2": "not-a-key"}}))

    assert (result.ok, result.error) == (False, messages.BAD_FIELD)
    assert store.trusted_keys().to_dict() == before


def test_an_older_keyring_cannot_replace_a_newer_one(
    handler: CommandHandler, store: KioskStore
) -> None:
    newer = {"1": None, "2": _public(2)}
    handler.handle(command("set_keys", {"keys": newer}, ts=NOW - 1000, command_id="k-new"))
    late = handler.handle(
        command("set_keys", {"keys": {"1": _public(1)}}, ts=NOW - 5000, command_id="k-old")
    )
    assert (late.ok, late.error) == (False, OUT_OF_ORDER)
    assert store.trusted_keys().to_dict() == newer
