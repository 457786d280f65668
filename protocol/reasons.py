"""Reason codes: why a scan was admitted or rejected (MicroPython core).

Every decision anywhere in Admit (credential parsing, signature checks, the kiosk's decision
function, the server's check-in API) names its outcome with exactly one of these strings. They
travel in MQTT messages and API responses and are the keys of the translated texts shown to
visitors and staff, so they are stable wire values: add new ones only by agreement, never rename.
"""

ADMITTED = "admitted"

# Credential form and signature.
MALFORMED = "malformed"
TOO_LONG = "too_long"
UNSUPPORTED_VERSION = "unsupported_version"
UNKNOWN_KEY = "unknown_key"
BAD_SIGNATURE = "bad_signature"
NOT_YET_VALID = "not_yet_valid"
EXPIRED = "expired"

# Ticket state and gate rules.
REVOKED = "revoked"
UNKNOWN_TICKET = "unknown_ticket"
BAD_CHECK_DIGIT = "bad_check_digit"
WRONG_EVENT = "wrong_event"
WRONG_ZONE = "wrong_zone"
ALREADY_USED = "already_used"
PASSBACK = "passback"
GATE_LOCKED = "gate_locked"
OFFLINE_POLICY = "offline_policy"
#: An admission annulled afterwards: the gate opened but the person did not walk through.
NOT_PASSED = "not_passed"

ALL_REASONS = (
    ADMITTED,
    MALFORMED,
    TOO_LONG,
    UNSUPPORTED_VERSION,
    UNKNOWN_KEY,
    BAD_SIGNATURE,
    NOT_YET_VALID,
    EXPIRED,
    REVOKED,
    UNKNOWN_TICKET,
    BAD_CHECK_DIGIT,
    WRONG_EVENT,
    WRONG_ZONE,
    ALREADY_USED,
    PASSBACK,
    GATE_LOCKED,
    OFFLINE_POLICY,
    NOT_PASSED,
)


class Rejection:
    """A typed "no": a reason code from this module plus a detail for logs (never for visitors).

    The detail is English technical text for operators; visitor-facing text is looked up by
    ``reason`` in the translation layer.
    """

    __slots__ = ("detail", "reason")

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Rejection)
            and self.reason == other.reason
            and self.detail == other.detail
        )

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash((self.reason, self.detail))

    def __repr__(self) -> str:
        return f"Rejection({self.reason!r}, {self.detail!r})"
