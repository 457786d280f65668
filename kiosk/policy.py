"""A gate's admission policy, read from the kiosk TOML's ``[policy]`` table.

```toml
[policy]
events = [17]              # event ids this gate serves; [] = any event
zones = [1, 2]             # zones it opens; [] = any (a ticket's zone 0 fits every gate)
direction = "in"           # "in", "out" or "both" (the caller says which way a scan goes)
entries = "ticket"         # "ticket": as the ticket allows; or a number (0 = unlimited)
anti_passback = "off"      # "soft": admit but flag; "hard": no 2nd entry before an exit
reentry_after_exit = true  # a ticket with its entries used up may enter again after an exit
window_seconds = 0         # a ticket admitted anywhere on the site is refused for N seconds
offline_action = "admit"   # broker unreachable: "admit", "deny" or "admit_signed_only"
accept_codes = true        # accept typed 12-digit verification codes
```

The site and gate ids come from the kiosk's ``[site]`` table and are passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, cast

from protocol.topics import is_valid_id

Direction = Literal["in", "out", "both"]
AntiPassback = Literal["off", "soft", "hard"]
OfflineAction = Literal["admit", "deny", "admit_signed_only"]

DIRECTIONS: tuple[Direction, ...] = ("in", "out", "both")
ANTI_PASSBACK_MODES: tuple[AntiPassback, ...] = ("off", "soft", "hard")
OFFLINE_ACTIONS: tuple[OfflineAction, ...] = ("admit", "deny", "admit_signed_only")
TICKET_ENTRIES = "ticket"
_KEYS = (
    "events",
    "zones",
    "direction",
    "entries",
    "anti_passback",
    "reentry_after_exit",
    "window_seconds",
    "offline_action",
    "accept_codes",
)


class PolicyError(ValueError):
    """A ``[policy]`` value that cannot be used; the message names the key."""


@dataclass(frozen=True, slots=True)
class GatePolicy:
    """What one gate admits. ``max_entries`` None means "as the ticket says"."""

    gate_id: str
    site: str
    event_ids: frozenset[int] = frozenset()
    zones: frozenset[int] = frozenset()
    direction: Direction = "in"
    max_entries: int | None = None
    anti_passback: AntiPassback = "off"
    reentry_after_exit: bool = True
    window_seconds: int = 0
    offline_action: OfflineAction = "admit"
    accept_codes: bool = True

    def __post_init__(self) -> None:
        for name, value in (("site", self.site), ("gate", self.gate_id)):
            if not is_valid_id(value):
                raise PolicyError(f"{name} id {value!r} must be 1..64 of [a-z0-9-_]")
        _choice("policy.direction", self.direction, DIRECTIONS)
        _choice("policy.anti_passback", self.anti_passback, ANTI_PASSBACK_MODES)
        _choice("policy.offline_action", self.offline_action, OFFLINE_ACTIONS)
        if self.max_entries is not None:
            _non_negative("policy.entries", self.max_entries)
        _non_negative("policy.window_seconds", self.window_seconds)
        for name, ids in (("policy.events", self.event_ids), ("policy.zones", self.zones)):
            for item in ids:
                _non_negative(name, item)

    @classmethod
    def from_toml(cls, table: Mapping[str, object], *, site: str, gate: str) -> GatePolicy:
        """Build from the ``[policy]`` table; ``PolicyError`` names any bad or unknown key."""
        if not isinstance(table, Mapping):
            raise PolicyError("[policy] must be a table")
        unknown = sorted(set(table) - set(_KEYS))
        if unknown:
            raise PolicyError(f"unknown key policy.{unknown[0]} (known: {', '.join(_KEYS)})")
        entries = table.get("entries", TICKET_ENTRIES)
        if entries == TICKET_ENTRIES:
            max_entries = None
        else:
            max_entries = _non_negative("policy.entries", entries, hint='or "ticket"')
        return cls(
            gate_id=gate,
            site=site,
            event_ids=_id_set("policy.events", table.get("events", [])),
            zones=_id_set("policy.zones", table.get("zones", [])),
            direction=cast(
                Direction, _choice("policy.direction", table.get("direction", "in"), DIRECTIONS)
            ),
            max_entries=max_entries,
            anti_passback=cast(
                AntiPassback,
                _choice(
                    "policy.anti_passback",
                    table.get("anti_passback", "off"),
                    ANTI_PASSBACK_MODES,
                ),
            ),
            reentry_after_exit=_bool(
                "policy.reentry_after_exit", table.get("reentry_after_exit", True)
            ),
            window_seconds=_non_negative("policy.window_seconds", table.get("window_seconds", 0)),
            offline_action=cast(
                OfflineAction,
                _choice(
                    "policy.offline_action", table.get("offline_action", "admit"), OFFLINE_ACTIONS
                ),
            ),
            accept_codes=_bool("policy.accept_codes", table.get("accept_codes", True)),
        )


def _choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise PolicyError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return value


def _bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise PolicyError(f"{name} must be true or false; got {value!r}")
    return value


def _non_negative(name: str, value: object, hint: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        extra = f" {hint}" if hint else ""
        raise PolicyError(f"{name} must be a whole number ≥ 0{extra}; got {value!r}")
    return value


def _id_set(name: str, value: object) -> frozenset[int]:
    if not isinstance(value, (list, tuple)):
        raise PolicyError(f"{name} must be a list of ids; got {value!r}")
    return frozenset(_non_negative(name, item) for item in value)
