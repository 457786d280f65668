# Runs under MicroPython (and CPython): the golden messages decode, re-encode unchanged, and the
# invalid ones fail with their reason. Run from the repository root with MICROPYPATH set to it;
# prints "OK" last when every check passed.
import json
import os

from protocol import messages

GOLDEN = "tests/golden"


def payload(case):
    if "hex" in case:
        return bytes.fromhex(case["hex"])
    if "text" in case:
        return case["text"].encode("utf-8")
    return json.dumps(case["message"], separators=(",", ":")).encode("utf-8")


def load(path):
    with open(path) as handle:
        return json.loads(handle.read())


def check_valid():
    count = 0
    for name in sorted(os.listdir(GOLDEN)):
        if not name.endswith(".json"):
            continue
        kind = name[:-5]
        for example in load(GOLDEN + "/" + name):
            message = messages.decode(json.dumps(example).encode("utf-8"))
            assert type(message) is messages.KINDS[kind], name
            assert message.to_dict() == example, name
            assert messages.decode(messages.encode(message)) == message, name
            count += 1
    assert count >= len(messages.KINDS), count
    return count


def check_invalid():
    count = 0
    folder = GOLDEN + "/invalid"
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".json"):
            continue
        case = load(folder + "/" + name)
        try:
            messages.decode(payload(case))
        except messages.MessageError as error:
            assert error.reason == case["reason"], name + ": " + error.reason
            if "command_id" in case:
                assert error.command_id == case["command_id"], name
        else:
            raise AssertionError(name + " decoded")
        count += 1
    assert count > 0
    return count


def check_builders():
    scan = messages.Scan(
        scan_id="g.1",
        gate="g",
        seq=1,
        scanned_at=5,
        offline=True,
        direction="in",
        decision="rejected",
        reason="expired",
        ticket_id=None,
        event_id=None,
        code_hash=None,
        entry_no=None,
        ts=10,
    )
    assert len(scan.id) == 32
    assert messages.decode(messages.encode(scan)) == scan
    for junk in (b"", b"\x00", b"{", b"[" * 5000, "null", b'{"v":1}', 42):
        try:
            messages.decode(junk)
        except messages.MessageError:
            pass
        else:
            raise AssertionError(repr(junk))


valid = check_valid()
invalid = check_invalid()
check_builders()
print("valid", valid, "invalid", invalid)
print("OK")
