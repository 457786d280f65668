"""MQTT topic tree shared by kiosks and the server (µ: runs unchanged under MicroPython).

Layout, with a configurable root (default ``admit``) and a version segment::

    <root>/v1/<site>/gates/<gate>/status        kiosk -> all     retained, last will
    <root>/v1/<site>/gates/<gate>/scans         kiosk -> server  QoS 1
    <root>/v1/<site>/gates/<gate>/acks          server -> kiosk  end-to-end scan acknowledgements
    <root>/v1/<site>/gates/<gate>/admissions    kiosk -> gates   cross-gate anti-passback gossip
    <root>/v1/<site>/gates/<gate>/commands      server -> kiosk
    <root>/v1/<site>/gates/<gate>/results       kiosk -> server  command results
    <root>/v1/<site>/gates/<gate>/telemetry     kiosk -> server
    <root>/v1/<site>/gates/<gate>/lists         server -> kiosk  list snapshot chunks, resync,
                                                                 staff admissions it missed
    <root>/v1/<site>/lists                      server -> site   versioned list deltas
    <root>/v1/<site>/lists/announce             server -> site   retained current versions

Everything a kiosk may publish sits under its own ``gates/<gate>/`` prefix, so a broker ACL is
a handful of exact topics per kiosk (see :func:`kiosk_acl` and SPEC.md).
"""

DEFAULT_ROOT = "admit"
VERSION = "v1"
MAX_ID_LENGTH = 64

# Per-gate topic kinds (the last topic segment).
STATUS = "status"
SCANS = "scans"
ACKS = "acks"
ADMISSIONS = "admissions"
COMMANDS = "commands"
RESULTS = "results"
TELEMETRY = "telemetry"
LISTS = "lists"
# Per-site topic kinds.
SITE_LISTS = "site_lists"
LIST_ANNOUNCE = "announce"

GATE_KINDS = (STATUS, SCANS, ACKS, ADMISSIONS, COMMANDS, RESULTS, TELEMETRY, LISTS)
SITE_KINDS = (SITE_LISTS, LIST_ANNOUNCE)
# What a kiosk publishes under its own gate prefix; the server publishes everything else.
KIOSK_PUBLISHES = (STATUS, SCANS, RESULTS, ADMISSIONS, TELEMETRY)
SERVER_PUBLISHES = (ACKS, COMMANDS, LISTS, SITE_LISTS, LIST_ANNOUNCE)

_ID_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-_"
#: The pseudo-gate under which the server gossips admissions and exits recorded by staff
#: (checkers, the back office), so gates count them like a peer gate's. Gate ids starting with
#: ``_`` are reserved for the server; no kiosk is enrolled under one.
STAFF_GATE = "_staff"
RESERVED_ID_PREFIX = "_"


class TopicError(ValueError):
    """A site id, gate id, root, group or kind that cannot form a valid topic."""


def is_valid_id(text: object) -> bool:
    """True for a site or gate id: 1..64 characters of ``[a-z0-9-_]``.

    The character set excludes the MQTT wildcards ``+`` and ``#``, the level separator ``/``
    and the ``$`` of system topics, so an id is always exactly one topic level.
    """
    if not isinstance(text, str) or not 0 < len(text) <= MAX_ID_LENGTH:
        return False
    return not text.strip(_ID_CHARS)  # empty exactly when every character is allowed


def _check_id(text: object, what: str) -> str:
    if not is_valid_id(text):
        raise TopicError("invalid " + what + " id: " + repr(text))
    return str(text)


def _check_root(root: object) -> str:
    if not isinstance(root, str):
        raise TopicError("invalid root: " + repr(root))
    for level in root.split("/"):
        if not is_valid_id(level):
            raise TopicError("invalid root: " + repr(root))
    return root


def _check_gate_kind(kind: str) -> str:
    if kind not in GATE_KINDS:
        raise TopicError("unknown gate topic kind: " + repr(kind))
    return kind


class TopicRef:
    """What a topic names: a site, a gate (None for site-wide topics) and a kind."""

    __slots__ = ("gate", "kind", "site")

    def __init__(self, site: str, gate: str | None, kind: str) -> None:
        self.site = site
        self.gate = gate
        self.kind = kind

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, TopicRef)
            and self.site == other.site
            and self.gate == other.gate
            and self.kind == other.kind
        )

    def __hash__(self) -> int:
        return hash((self.site, self.gate, self.kind))

    def __repr__(self) -> str:
        return f"TopicRef({self.site!r}, {self.gate!r}, {self.kind!r})"


class Topics:
    """Topic names of one site; every gate id passed in is validated."""

    __slots__ = ("_prefix", "root", "site")

    def __init__(self, site: str, root: str = DEFAULT_ROOT) -> None:
        self.site = _check_id(site, "site")
        self.root = _check_root(root)
        self._prefix = self.root + "/" + VERSION + "/" + self.site

    def gate_topic(self, gate: str, kind: str) -> str:
        """The topic of one gate's ``kind`` (one of :data:`GATE_KINDS`)."""
        return self._prefix + "/gates/" + _check_id(gate, "gate") + "/" + _check_gate_kind(kind)

    def status(self, gate: str) -> str:
        return self.gate_topic(gate, STATUS)

    def scans(self, gate: str) -> str:
        return self.gate_topic(gate, SCANS)

    def acks(self, gate: str) -> str:
        return self.gate_topic(gate, ACKS)

    def admissions(self, gate: str) -> str:
        return self.gate_topic(gate, ADMISSIONS)

    def commands(self, gate: str) -> str:
        return self.gate_topic(gate, COMMANDS)

    def command_results(self, gate: str) -> str:
        return self.gate_topic(gate, RESULTS)

    def telemetry(self, gate: str) -> str:
        return self.gate_topic(gate, TELEMETRY)

    def lists(self, gate: str) -> str:
        return self.gate_topic(gate, LISTS)

    def site_lists(self) -> str:
        return self._prefix + "/lists"

    def list_announce(self) -> str:
        return self._prefix + "/lists/announce"

    def all_gates(self, kind: str) -> str:
        """Wildcard for ``kind`` of every gate of this site, e.g. peers' admissions."""
        return self._prefix + "/gates/+/" + _check_gate_kind(kind)

    def kiosk_subscriptions(self, gate: str) -> list[str]:
        """Everything a kiosk subscribes to: its commands, acks and lists, the site's lists
        and announcement, and every gate's admissions (its own come back too; ignore them by
        gate id)."""
        return [
            self.commands(gate),
            self.acks(gate),
            self.lists(gate),
            self.site_lists(),
            self.list_announce(),
            self.all_gates(ADMISSIONS),
        ]


def kiosk_acl(site: str, gate: str, root: str = DEFAULT_ROOT) -> list[tuple[str, str]]:
    """The broker ACL of one kiosk as ``(access, topic)`` pairs, access "read" or "write".

    Written for Mosquitto's ``acl_file`` (``topic <access> <topic>`` lines under
    ``user <name>``): a kiosk writes only its own status, scans, results, admissions and
    telemetry, and reads its own commands, acks and lists, the site's lists and every gate's
    admissions of its site.
    """
    topics = Topics(site, root)
    rules = [("write", topics.gate_topic(gate, kind)) for kind in KIOSK_PUBLISHES]
    rules.extend(
        [
            ("read", topics.commands(gate)),
            ("read", topics.acks(gate)),
            ("read", topics.lists(gate)),
            ("read", topics.site_lists()),
            ("read", topics.list_announce()),
            ("read", topics.all_gates(ADMISSIONS)),
        ]
    )
    return rules


def fleet_subscription(kind: str, root: str = DEFAULT_ROOT) -> str:
    """Wildcard for ``kind`` of every gate of every site: ``<root>/v1/+/gates/+/<kind>``."""
    return _check_root(root) + "/" + VERSION + "/+/gates/+/" + _check_gate_kind(kind)


def shared_subscription(group: str, kind: str = SCANS, root: str = DEFAULT_ROOT) -> str:
    """MQTT 5 shared subscription ``$share/<group>/<root>/v1/+/gates/+/<kind>``.

    Several server instances subscribing with the same group each receive a share of the
    messages instead of every message.
    """
    return "$share/" + _check_id(group, "group") + "/" + fleet_subscription(kind, root)


def parse_topic(topic: object, root: str = DEFAULT_ROOT) -> TopicRef | None:
    """What ``topic`` names, or None for anything foreign or malformed; never raises.

    Wildcards never match: a topic with ``+`` or ``#`` fails the id check.
    """
    if not isinstance(topic, str) or not isinstance(root, str):
        return None
    prefix = root + "/" + VERSION + "/"
    if not topic.startswith(prefix):
        return None
    levels = topic[len(prefix) :].split("/")
    site = levels[0]
    if not is_valid_id(site):
        return None
    rest = levels[1:]
    if rest == ["lists"]:
        return TopicRef(site, None, SITE_LISTS)
    if rest == ["lists", "announce"]:
        return TopicRef(site, None, LIST_ANNOUNCE)
    if len(rest) == 3 and rest[0] == "gates" and is_valid_id(rest[1]) and rest[2] in GATE_KINDS:
        return TopicRef(site, rest[1], rest[2])
    return None
