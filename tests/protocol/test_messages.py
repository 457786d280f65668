"""Message kinds: validation, encode/decode round trips, and decode's total error handling."""

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol import messages, topics
from protocol.messages import MessageError

T = 1748772000000
HEX = "0123456789abcdef"

ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=64)
idents = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:",
    min_size=1,
    max_size=64,
)
tokens = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=40
)
hexes = st.text(alphabet=HEX, min_size=1, max_size=64)
codes = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=20)
counts = st.integers(min_value=0, max_value=messages.MAX_INT)
opt_counts = st.none() | counts
json_scalars = st.none() | st.booleans() | st.text(max_size=20) | st.integers(-1000, 1000)
json_objects = st.dictionaries(st.text(max_size=10), json_scalars, max_size=5)


def scan_kwargs(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "scan_id": "north-1.000123",
        "gate": "north-1",
        "seq": 123,
        "scanned_at": T - 250,
        "offline": False,
        "direction": "in",
        "decision": "admitted",
        "reason": "admitted",
        "ticket_id": 100234,
        "event_id": 17,
        "code_hash": None,
        "entry_no": 1,
        "ts": T,
    }
    fields.update(changes)
    return fields


def delta_kwargs(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "list": "revocations",
        "site": "expo-hall",
        "scope": None,
        "snapshot": False,
        "from_version": 6,
        "to_version": 7,
        "add": ["100234"],
        "remove": [],
        "digest": "ab" * 16,
        "chunk": 0,
        "chunks": 1,
        "ts": T,
    }
    fields.update(changes)
    return fields


def scans() -> st.SearchStrategy[messages.Scan]:
    def build(decision: str, reason: str, **kwargs: Any) -> messages.Scan:
        return messages.Scan(
            decision=decision, reason="admitted" if decision == "admitted" else reason, **kwargs
        )

    return st.builds(
        build,
        decision=st.sampled_from(messages.DECISIONS),
        reason=codes.filter(lambda code: code not in ("admitted", "not_passed")),
        scan_id=idents,
        gate=ids,
        seq=st.integers(1, messages.MAX_INT),
        scanned_at=counts,
        offline=st.booleans(),
        direction=st.sampled_from(messages.DIRECTIONS),
        ticket_id=opt_counts,
        event_id=opt_counts,
        code_hash=st.none() | tokens,
        entry_no=st.none() | st.integers(1, 1000),
        ts=counts,
        id=st.none() | idents,
    )


def list_updates() -> st.SearchStrategy[messages.ListUpdate]:
    def build(snapshot: bool, from_version: int, step: int, chunks: int, **kw: Any) -> Any:
        if snapshot:
            kw["remove"] = []
            return messages.ListUpdate(
                snapshot=True, from_version=0, to_version=from_version + 1, chunks=chunks,
                chunk=chunks - 1, **kw,
            )  # fmt: skip
        return messages.ListUpdate(
            snapshot=False, from_version=from_version, to_version=from_version + step,
            chunks=1, chunk=0, **kw,
        )  # fmt: skip

    return st.builds(
        build,
        snapshot=st.booleans(),
        from_version=st.integers(0, 10**9),
        step=st.integers(1, 100),
        chunks=st.integers(1, 50),
        list=st.sampled_from(messages.LIST_NAMES),
        site=ids,
        scope=opt_counts,
        add=st.lists(tokens, max_size=10),
        remove=st.lists(tokens, max_size=10),
        digest=hexes,
        ts=counts,
    )


any_message = st.one_of(
    scans(),
    list_updates(),
    st.builds(
        messages.Status,
        gate=ids,
        state=st.sampled_from(messages.STATES),
        mode=st.sampled_from(messages.MODES),
        allowlist_version=counts,
        revocations_version=counts,
        outbox_depth=counts,
        software=st.text(min_size=1, max_size=64),
        since=counts,
        ts=counts,
        keyring=st.none() | st.text(alphabet=HEX, min_size=1, max_size=16),
        staff_seq=opt_counts,
    ),
    st.builds(
        messages.ScanAck,
        gate=ids,
        scan_ids=st.lists(idents, max_size=20),
        watermark=counts,
        ts=counts,
    ),
    st.builds(
        messages.Admission,
        gate=ids,
        ticket_key=st.one_of(
            counts.map(messages.ticket_key_for_ticket), tokens.map(messages.ticket_key_for_code)
        ),
        direction=st.sampled_from(messages.DIRECTIONS),
        at=counts,
        entries_used=counts,
        ts=counts,
    ),
    st.builds(
        lambda seq, back, **kw: messages.Admission(seq=seq, prev=max(seq - back, 0), **kw),
        gate=st.just(topics.STAFF_GATE),
        ticket_key=counts.map(messages.ticket_key_for_ticket),
        direction=st.sampled_from(messages.DIRECTIONS),
        at=counts,
        entries_used=counts,
        ts=counts,
        seq=st.integers(1, messages.MAX_INT),
        back=st.integers(1, messages.MAX_INT),
    ),
    st.builds(
        messages.Command,
        command_id=idents,
        name=st.sampled_from(
            [name for name in messages.COMMAND_NAMES if name not in {"set_mode", "set_keys"}]
        ),
        args=json_objects,
        expires_at=opt_counts,
        ts=counts,
    ),
    st.builds(
        lambda ok, error, **kw: messages.CommandResult(ok=ok, error=None if ok else error, **kw),
        ok=st.booleans(),
        error=codes,
        command_id=idents,
        gate=ids,
        detail=json_objects,
        ts=counts,
    ),
    st.builds(
        messages.ListAnnounce,
        site=ids,
        allowlist_version=counts,
        allowlist_digest=hexes,
        revocations_version=counts,
        revocations_digest=hexes,
        ts=counts,
    ),
    st.builds(
        messages.Telemetry,
        gate=ids,
        metrics=st.dictionaries(
            codes, st.integers(-(10**6), 10**6) | st.floats(allow_nan=False, allow_infinity=False)
        ),
        ts=counts,
    ),
)


@given(any_message)
def test_encode_decode_round_trip(message: messages.Message) -> None:
    payload = messages.encode(message)
    decoded = messages.decode(payload)
    assert decoded == message
    assert type(decoded) is type(message)
    assert decoded.to_dict() == json.loads(payload)
    assert messages.decode(payload.decode("utf-8")) == message


@given(st.binary(max_size=300))
def test_decode_arbitrary_bytes_raises_only_message_error(payload: bytes) -> None:
    try:
        messages.decode(payload)
    except MessageError as error:
        assert error.reason
    else:  # pragma: no cover - random bytes are practically never a message
        pytest.fail("random bytes decoded")


json_values = st.recursive(
    json_scalars | st.floats(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


@given(json_values)
def test_decode_arbitrary_json_raises_only_message_error(value: object) -> None:
    with pytest.raises(MessageError):
        messages.decode(json.dumps(value))


def _golden_examples() -> list[dict[str, Any]]:
    golden = Path(__file__).resolve().parents[1] / "golden"
    return [
        example
        for path in sorted(golden.glob("*.json"))
        for example in json.loads(path.read_text())
    ]


@given(
    example=st.sampled_from(_golden_examples()),
    field=st.text(max_size=3) | st.sampled_from(["v", "kind", "id", "ts", "gate", "seq", "add"]),
    value=json_values,
    data=st.data(),
)
def test_decode_mutated_golden_message_is_valid_or_message_error(
    example: dict[str, Any], field: str, value: object, data: st.DataObject
) -> None:
    mutated = dict(example)
    key = data.draw(st.sampled_from([*mutated, field]))
    mutated[key] = value
    try:
        message = messages.decode(json.dumps(mutated))
    except MessageError:
        return
    assert messages.decode(messages.encode(message)) == message


def test_bool_is_not_an_integer_and_integers_are_not_bools() -> None:
    with pytest.raises(MessageError, match="seq"):
        messages.Scan(**scan_kwargs(seq=True))
    with pytest.raises(MessageError, match="offline"):
        messages.Scan(**scan_kwargs(offline=1))
    with pytest.raises(MessageError, match="ts"):
        messages.Scan(**scan_kwargs(ts=False))


@pytest.mark.parametrize(
    "changes",
    [
        {"seq": 0},
        {"seq": -1},
        {"seq": messages.MAX_INT + 1},
        {"scanned_at": -5},
        {"ticket_id": 1.0},
        {"entry_no": 0},
        {"reason": "Admitted"},
        {"decision": "rejected"},
        {"decision": "admitted", "reason": "expired"},
        {"annuls": "north-1.000001"},
        {"scan_id": "has space"},
        {"scan_id": ""},
        {"gate": "North"},
        {"code_hash": "not a token"},
    ],
)
def test_scan_rejects_bad_fields(changes: dict[str, Any]) -> None:
    with pytest.raises(MessageError) as caught:
        messages.Scan(**scan_kwargs(**changes))
    assert caught.value.reason == messages.BAD_FIELD


def test_annulment_names_the_admission_it_annuls() -> None:
    annul = messages.Scan(
        **scan_kwargs(decision="rejected", reason="not_passed", annuls="north-1.000123")
    )
    assert messages.decode(messages.encode(annul)).annuls == "north-1.000123"  # type: ignore[attr-defined]


def test_missing_field_is_named() -> None:
    data = messages.Scan(**scan_kwargs()).to_dict()
    del data["gate"]
    with pytest.raises(MessageError) as caught:
        messages.decode(json.dumps(data))
    assert (caught.value.reason, caught.value.detail) == (messages.MISSING_FIELD, "gate")


def test_optional_fields_may_be_absent_and_unknown_fields_are_ignored() -> None:
    data = messages.Scan(**scan_kwargs()).to_dict()
    del data["annuls"]
    data["future_field"] = {"x": 1}
    decoded = messages.decode(json.dumps(data))
    assert isinstance(decoded, messages.Scan)
    assert decoded.annuls is None


def test_new_id_is_32_hex_and_fresh() -> None:
    made = {messages.new_id() for _ in range(100)}
    assert len(made) == 100
    assert all(len(i) == 32 and set(i) <= set(HEX) for i in made)
    assert messages.Scan(**scan_kwargs()).id != messages.Scan(**scan_kwargs()).id
    assert messages.Scan(**scan_kwargs(), id="fixed").id == "fixed"


def test_payload_caps() -> None:
    big_list = messages.ListUpdate(**delta_kwargs(add=[f"{n:064x}" for n in range(3000)]))
    assert 16 * 1024 < len(messages.encode(big_list)) <= messages.MAX_LIST_PAYLOAD
    assert messages.decode(messages.encode(big_list)) == big_list
    too_big = messages.ListUpdate(**delta_kwargs(add=[f"{n:0128x}" for n in range(2500)]))
    with pytest.raises(MessageError) as caught:
        messages.encode(too_big)
    assert caught.value.reason == messages.TOO_LARGE
    status_padding = json.dumps({"v": 1, "kind": "status", "pad": "x" * messages.MAX_PAYLOAD})
    with pytest.raises(MessageError) as caught:
        messages.decode(status_padding)
    assert caught.value.reason == messages.TOO_LARGE
    with pytest.raises(MessageError) as caught:
        messages.decode(b" " * (messages.MAX_LIST_PAYLOAD + 1))
    assert caught.value.reason == messages.TOO_LARGE


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\xff\xfe", messages.BAD_ENCODING),
        ("\ud800", messages.BAD_ENCODING),
        (12, messages.BAD_ENCODING),
        (b"[" * 100_000, messages.BAD_JSON),
        (b"", messages.BAD_JSON),
        (b"null", messages.NOT_OBJECT),
        (b'{"v":1.0,"kind":"scan"}', messages.UNSUPPORTED_VERSION),
        (b'{"v":1,"kind":["scan"]}', messages.UNKNOWN_KIND),
        (b'{"kind":"scan"}', messages.MISSING_FIELD),
    ],
)
def test_decode_rejects_envelope_problems(payload: Any, reason: str) -> None:
    with pytest.raises(MessageError) as caught:
        messages.decode(payload)
    assert caught.value.reason == reason


def test_non_finite_numbers_are_rejected_anywhere() -> None:
    with pytest.raises(MessageError):
        messages.Telemetry(gate="g", metrics={"x": float("nan")}, ts=T)
    command = messages.Command(command_id="c", name="resync", args={}, ts=T).to_dict()
    command["args"] = {"deep": [float("inf")]}
    with pytest.raises(MessageError):
        messages.decode(json.dumps(command))


def test_refused_command_error_carries_its_command_id() -> None:
    data = messages.Command(command_id="cmd-1", name="lock", args={}, ts=T).to_dict()
    data["expires_at"] = "soon"
    with pytest.raises(MessageError) as caught:
        messages.decode(json.dumps(data))
    assert caught.value.command_id == "cmd-1"
    data["command_id"] = "bad id"
    with pytest.raises(MessageError) as caught:
        messages.decode(json.dumps(data))
    assert caught.value.command_id is None


def test_set_mode_needs_a_known_mode_and_commands_expire() -> None:
    with pytest.raises(MessageError):
        messages.Command(command_id="c", name="set_mode", args={"mode": "party"}, ts=T)
    command = messages.Command(
        command_id="c", name="set_mode", args={"mode": "locked"}, ts=T, expires_at=T + 10
    )
    assert not command.is_expired(T + 9)
    assert command.is_expired(T + 10)
    assert not messages.Command(command_id="c", name="lock", args={}, ts=T).is_expired(2**52)


@pytest.mark.parametrize(
    "keys",
    [None, [], {"one": "AAAA"}, {"1": 5}, {"1": ""}, {"1234": "AAAA"}, {1: "AAAA"}],
    ids=["missing", "list", "word-id", "number-key", "empty-key", "long-id", "int-id"],
)
def test_set_keys_needs_a_keyring_shaped_object(keys: object) -> None:
    with pytest.raises(MessageError) as caught:
        messages.Command(command_id="c", name="set_keys", args={"keys": keys}, ts=T)
    assert caught.value.reason == messages.BAD_FIELD


def test_set_keys_round_trips_trusted_and_retired_keys() -> None:
    keys = {"1": None, "2": "MCowBQYDK2VwAyEA" + "A" * 44}
    command = messages.Command(command_id="c", name="set_keys", args={"keys": keys}, ts=T)
    decoded = messages.decode(messages.encode(command))
    assert isinstance(decoded, messages.Command)
    assert decoded.args == {"keys": keys}


def test_command_result_error_iff_not_ok() -> None:
    base: dict[str, Any] = {"command_id": "c", "gate": "g", "detail": {}, "ts": T}
    with pytest.raises(MessageError):
        messages.CommandResult(ok=True, error="expired", **base)
    with pytest.raises(MessageError):
        messages.CommandResult(ok=False, error=None, **base)


@pytest.mark.parametrize(
    "changes",
    [
        {"to_version": 6},
        {"chunks": 2, "chunk": 1},
        {"chunk": 1},
        {"chunks": 0},
        {"snapshot": True, "remove": ["x"]},
        {"digest": "ABCD"},
        {"list": "blocklist"},
        {"add": ["with space"]},
        {"add": "100234"},
        {"meta": {"unknown-entry": {"ticket_id": 1}}},
        {"meta": {"100234": 5}},
    ],
)
def test_list_update_rules(changes: dict[str, Any]) -> None:
    with pytest.raises(MessageError):
        messages.ListUpdate(**delta_kwargs(**changes))


def test_snapshot_chunks_and_meta() -> None:
    chunk = messages.ListUpdate(
        **delta_kwargs(
            list="allowlist",
            snapshot=True,
            from_version=0,
            to_version=42,
            chunks=3,
            chunk=2,
            add=["ab12"],
            meta={"ab12": {"ticket_id": 9, "event_id": 17, "zone": 0, "entries": 1}},
        )
    )
    assert messages.decode(messages.encode(chunk)) == chunk


@pytest.mark.parametrize("key", ["t:", "t:01", "t:-1", "t:x", "c:", "x:1", "t1", "c:has space"])
def test_admission_ticket_key_forms(key: str) -> None:
    with pytest.raises(MessageError):
        messages.Admission(gate="g", ticket_key=key, direction="in", at=T, entries_used=1, ts=T)


# --- the staff sequence: status.staff_seq, admission.seq and prev ------------------------------

STATUS = json.loads((Path(__file__).resolve().parents[1] / "golden" / "status.json").read_text())[0]
STAFF_ADMISSION = {
    "v": 1,
    "kind": "admission",
    "id": "a1",
    "ts": T,
    "gate": topics.STAFF_GATE,
    "ticket_key": "t:100235",
    "direction": "in",
    "at": T - 5000,
    "entries_used": 1,
}


def _is_count(value: object, minimum: int = 0) -> bool:
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and minimum <= value <= messages.MAX_INT
    )


@given(st.one_of(st.integers(-(2**60), 2**60), st.just(messages.MAX_INT + 1), json_values))
def test_status_staff_seq_is_a_count_or_a_clear_error(value: object) -> None:
    payload = json.dumps({**STATUS, "staff_seq": value})
    if value is None or _is_count(value):
        status = messages.decode(payload)
        assert isinstance(status, messages.Status) and status.staff_seq == value
        assert messages.decode(messages.encode(status)) == status
        return
    with pytest.raises(MessageError) as caught:
        messages.decode(payload)
    assert caught.value.reason == messages.BAD_FIELD
    assert caught.value.detail.startswith("staff_seq ")


def test_a_status_without_staff_seq_is_an_older_gate() -> None:
    old = {key: value for key, value in STATUS.items() if key != "staff_seq"}
    status = messages.decode(json.dumps(old))
    assert isinstance(status, messages.Status) and status.staff_seq is None


_seq_values = st.one_of(st.none(), st.integers(-3, 12), st.just(messages.MAX_INT + 1), json_values)


@given(
    gate=st.sampled_from([topics.STAFF_GATE, "north-1"]),
    seq=_seq_values,
    prev=_seq_values,
    absent=st.sets(st.sampled_from(["seq", "prev"])),
)
def test_admission_seq_and_prev_are_the_staff_chain_or_a_clear_error(
    gate: str, seq: object, prev: object, absent: set[str]
) -> None:
    data = {**STAFF_ADMISSION, "gate": gate, "seq": seq, "prev": prev}
    for name in absent:
        del data[name]
    given_seq, given_prev = data.get("seq"), data.get("prev")
    valid = (given_seq is None and given_prev is None) or (
        _is_count(given_seq, 1)
        and _is_count(given_prev)
        and given_prev < given_seq  # type: ignore[operator]
        and gate == topics.STAFF_GATE
    )
    payload = json.dumps(data)
    if valid:
        admission = messages.decode(payload)
        assert isinstance(admission, messages.Admission)
        assert (admission.seq, admission.prev) == (given_seq, given_prev)
        assert messages.decode(messages.encode(admission)) == admission
        return
    with pytest.raises(MessageError) as caught:
        messages.decode(payload)
    assert caught.value.reason == messages.BAD_FIELD
    assert caught.value.detail.split(" ")[0] in {"seq", "prev"}, caught.value.detail


@pytest.mark.parametrize(
    ("changes", "detail"),
    [
        ({"seq": 5}, "prev and seq must be given together"),
        ({"prev": 4}, "prev and seq must be given together"),
        ({"seq": 5, "prev": 5}, "prev must be below seq"),
        ({"seq": 0, "prev": 0}, "seq out of range"),
        ({"seq": 5, "prev": -1}, "prev out of range"),
        ({"seq": 5, "prev": 4, "gate": "north-1"}, "seq is only for admissions of _staff"),
    ],
)
def test_admission_seq_errors_say_what_is_wrong(changes: dict[str, Any], detail: str) -> None:
    with pytest.raises(MessageError) as caught:
        messages.decode(json.dumps({**STAFF_ADMISSION, **changes}))
    assert (caught.value.reason, caught.value.detail) == (messages.BAD_FIELD, detail)


def test_a_staff_admission_may_come_on_a_gates_own_lists_topic_and_no_other_may() -> None:
    site = topics.Topics("expo-hall")
    own_lists = topics.parse_topic(site.lists("north-1"))
    assert own_lists is not None
    staff = messages.Admission.from_dict({**STAFF_ADMISSION, "seq": 9, "prev": 3})
    assert messages.matches_topic(staff, own_lists)
    peer = messages.Admission.from_dict({**STAFF_ADMISSION, "gate": "north-1"})
    assert not messages.matches_topic(peer, own_lists), "a gate's gossip is not a resend"
    assert not messages.matches_topic(staff, topics.parse_topic(site.commands("north-1")))  # type: ignore[arg-type]
    assert messages.matches_topic(staff, topics.parse_topic(site.admissions(topics.STAFF_GATE)))  # type: ignore[arg-type]


def test_matches_topic_checks_kind_gate_and_site() -> None:
    site = topics.Topics("expo-hall")
    scan = messages.Scan(**scan_kwargs())
    assert messages.matches_topic(scan, topics.parse_topic(site.scans("north-1")))  # type: ignore[arg-type]
    assert not messages.matches_topic(scan, topics.parse_topic(site.scans("south-2")))  # type: ignore[arg-type]
    assert not messages.matches_topic(scan, topics.parse_topic(site.status("north-1")))  # type: ignore[arg-type]
    update = messages.ListUpdate(**delta_kwargs())
    assert messages.matches_topic(update, topics.parse_topic(site.site_lists()))  # type: ignore[arg-type]
    assert messages.matches_topic(update, topics.parse_topic(site.lists("north-1")))  # type: ignore[arg-type]
    other_site = topics.Topics("other").site_lists()
    assert not messages.matches_topic(update, topics.parse_topic(other_site))  # type: ignore[arg-type]
