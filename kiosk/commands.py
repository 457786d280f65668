"""Commands from the server and list updates, each answered with one ``command_result``.

:class:`CommandHandler` turns a decoded :class:`~protocol.messages.Command` into exactly one
:class:`~protocol.messages.CommandResult` with the same ``command_id``; it never raises. A
command is refused, and nothing of it applied, when it is:

- malformed (the decoder's reason, when its ``command_id`` could still be read);
- expired (``expires_at`` has passed: an "open once" from an hour ago must not fire);
- out of order: a mode change (lock, unlock, free passage, set mode) older (``ts``) than the
  last mode change applied, so a delayed "unlock" cannot undo a newer "lock";
- not possible now (open once on a locked or busy gate), or given bad arguments;
- an out-of-order keyring: a ``set_keys`` older (``ts``) than the last keyring applied.

``set_keys`` replaces the trusted signing keys in one store transaction (a key rotated or
retired on the server), so the gate verifies with either the old or the new keyring, never a mix.

A command delivered twice (QoS 1 redelivery) is answered again with its first result and not
carried out again. List updates (deltas and snapshot chunks) go to :mod:`kiosk.lists`; their
outcome is reported on the same results topic with the update's message id as ``command_id``,
so the server sees refused updates (``gap``, ``digest_mismatch``) and sends a resync.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from kiosk import lists
from kiosk.store import KioskStore
from protocol import messages
from protocol.messages import Command, CommandResult, ListUpdate, MessageError
from protocol.signing import KeyFormatError, Keyring

log = logging.getLogger(__name__)

# CommandResult errors beyond the MessageError reasons (lower snake case, stable wire values).
EXPIRED = "expired"
OUT_OF_ORDER = "out_of_order"
GATE_LOCKED = "gate_locked"
BUSY = "busy"
FAILED = "failed"

MODE_COMMANDS = {"lock": "locked", "unlock": "normal", "free_passage": "free"}
#: the settings key holding the ``ts`` of the last mode change applied (survives restarts)
LAST_MODE_COMMAND_SETTING = "last_mode_command_ts"
#: the settings key holding the ``ts`` of the last keyring (``set_keys``) applied
LAST_KEYS_COMMAND_SETTING = "last_keys_command_ts"
_REMEMBERED_RESULTS = 256


class CommandRefused(Exception):
    """A command that cannot be carried out; ``error`` is the result's reason code."""

    def __init__(self, error: str, detail: dict[str, object] | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.detail = detail or {}


class GateControl(Protocol):
    """What commands may do to the gate (``kiosk.app.ModeControl``)."""

    @property
    def mode(self) -> str: ...

    def set_mode(self, mode: str) -> None:
        """Switch to a wire mode (normal, locked, free, maintenance), durably."""

    def open_once(self, direction: str, token: str) -> None:
        """Release the turnstile for one person; raises CommandRefused when it cannot."""


class ListKeeper(Protocol):
    """The list side of the store (``kiosk.lists``), adapted to what results report."""

    def apply(
        self, update: ListUpdate, *, allow_rollback: bool = False
    ) -> tuple[str | None, dict[str, object]]:
        """Apply an update; returns (error reason or None, detail). ``allow_rollback``: see
        :func:`kiosk.lists.may_roll_back`."""

    def audit(self, list_name: str) -> dict[str, object]:
        """``{"list", "version", "digest", "count"}`` of the list as held."""

    def discard_staging(self) -> None:
        """Drop snapshot chunks staged so far (a resync starts a fresh snapshot)."""


class StoreLists:
    """:class:`ListKeeper` over ``kiosk.lists`` and one store connection."""

    def __init__(self, store: KioskStore) -> None:
        self._store = store

    def apply(
        self, update: ListUpdate, *, allow_rollback: bool = False
    ) -> tuple[str | None, dict[str, object]]:
        result = lists.apply_update(self._store, update, allow_rollback=allow_rollback)
        detail: dict[str, object] = {"outcome": str(result.outcome), "version": result.version}
        if result.detail:
            detail["message"] = result.detail[:200]
        if result.missing_chunks:
            detail["missing_chunks"] = list(result.missing_chunks[:100])
        return (None if result.ok else str(result.outcome)), detail

    def audit(self, list_name: str) -> dict[str, object]:
        found = lists.audit(self._store, list_name, recount=True)
        return {
            "list": found.list,
            "version": found.version,
            "digest": found.digest,
            "count": found.count,
        }

    def discard_staging(self) -> None:
        for name in messages.LIST_NAMES:
            lists.discard_staging(self._store, name)


class CommandHandler:
    """Carries out commands and list updates for one gate; results come back, never errors."""

    def __init__(
        self,
        gate: str,
        control: GateControl,
        lists: ListKeeper,
        store: KioskStore,
        now_ms: Callable[[], int],
    ) -> None:
        self._gate = gate
        self._control = control
        self._lists = lists
        self._store = store
        self._now_ms = now_ms
        self._answered: OrderedDict[str, CommandResult] = OrderedDict()

    def handle(self, command: Command) -> CommandResult:
        """Carry out ``command`` (or refuse it) and return its one result."""
        earlier = self._answered.get(command.command_id)
        if earlier is not None:
            log.info("command %s delivered again; answering as before", command.command_id)
            return earlier
        try:
            detail = self._carry_out(command)
        except CommandRefused as refused:
            log.info("command %s (%s) refused: %s", command.command_id, command.name, refused)
            result = self._result(command.command_id, refused.error, refused.detail)
        except Exception as exc:  # a failing gate or store must not stop the link
            log.exception("command %s (%s) failed", command.command_id, command.name)
            result = self._result(command.command_id, FAILED, {"message": str(exc)[:200]})
        else:
            log.info("command %s (%s) done", command.command_id, command.name)
            result = self._result(command.command_id, None, detail)
        self._remember(command.command_id, result)
        return result

    def refuse_malformed(self, error: MessageError) -> CommandResult | None:
        """The result for a command that did not decode, if its ``command_id`` was readable."""
        if error.command_id is None:
            return None
        return self._result(error.command_id, error.reason, {"message": error.detail[:200]})

    def handle_list_update(
        self, update: ListUpdate, *, allow_rollback: bool = False
    ) -> CommandResult:
        """Apply a list update through ``kiosk.lists``; the result names the update's id."""
        try:
            error, detail = self._lists.apply(update, allow_rollback=allow_rollback)
        except Exception as exc:
            log.exception("list update %s failed", update.id)
            error, detail = FAILED, {"message": str(exc)[:200]}
        detail = {"list": update.list, "to_version": update.to_version, **detail}
        if error is not None:
            log.warning("list update %s refused: %s %s", update.id, error, detail)
        return self._result(update.id, error, detail)

    # --- the commands --------------------------------------------------------------------

    def _carry_out(self, command: Command) -> dict[str, object]:
        if command.is_expired(self._now_ms()):
            raise CommandRefused(EXPIRED, {"expires_at": command.expires_at})
        if command.name == "audit":
            return self._audit(command.args)
        if command.name == "resync":
            # the server follows with a snapshot on this gate's lists topic
            self._lists.discard_staging()
            return {name: self._lists.audit(name)["version"] for name in messages.LIST_NAMES}
        if command.name == "open_once":
            direction = command.args.get("direction", "in")
            if direction not in messages.DIRECTIONS:
                raise CommandRefused(messages.BAD_FIELD, {"message": "args.direction: in or out"})
            self._control.open_once(str(direction), f"command:{command.command_id}")
            return {"direction": direction}
        if command.name == "set_keys":
            return self._set_keys(command)
        if command.name == "set_mode":
            mode = str(command.args["mode"])  # validated by Command
        else:
            mode = MODE_COMMANDS[command.name]
        return self._change_mode(command, mode)

    def _change_mode(self, command: Command, mode: str) -> dict[str, object]:
        last = int(self._store.get_setting(LAST_MODE_COMMAND_SETTING) or 0)
        if command.ts < last:
            raise CommandRefused(OUT_OF_ORDER, {"ts": command.ts, "last_ts": last})
        previous = self._control.mode
        self._control.set_mode(mode)
        self._store.set_setting(LAST_MODE_COMMAND_SETTING, str(command.ts))
        return {"mode": mode, "previous": previous}

    def _set_keys(self, command: Command) -> dict[str, object]:
        last = int(self._store.get_setting(LAST_KEYS_COMMAND_SETTING) or 0)
        if command.ts < last:
            raise CommandRefused(OUT_OF_ORDER, {"ts": command.ts, "last_ts": last})
        entries = command.args["keys"]  # shape validated by Command
        try:
            keyring = Keyring.from_dict(entries)  # type: ignore[arg-type]
        except KeyFormatError as exc:
            raise CommandRefused(messages.BAD_FIELD, {"message": str(exc)[:200]}) from None
        self._store.set_trusted_keys(keyring)
        self._store.set_setting(LAST_KEYS_COMMAND_SETTING, str(command.ts))
        held = keyring.to_dict()
        return {
            "trusted": sorted(int(key_id) for key_id, key in held.items() if key is not None),
            "retired": sorted(int(key_id) for key_id, key in held.items() if key is None),
        }

    def _audit(self, args: dict[str, object]) -> dict[str, object]:
        name = args.get("list")
        if name not in messages.LIST_NAMES:
            raise CommandRefused(
                messages.BAD_FIELD,
                {"message": "args.list must be one of " + ", ".join(messages.LIST_NAMES)},
            )
        return self._lists.audit(str(name))

    # --- helpers -------------------------------------------------------------------------

    def _result(
        self, command_id: str, error: str | None, detail: dict[str, object]
    ) -> CommandResult:
        return CommandResult(
            command_id=command_id,
            gate=self._gate,
            ok=error is None,
            error=error,
            detail=detail,
            ts=self._now_ms(),
        )

    def _remember(self, command_id: str, result: CommandResult) -> None:
        self._answered[command_id] = result
        while len(self._answered) > _REMEMBERED_RESULTS:
            self._answered.popitem(last=False)
