# Runs under MicroPython: the credential's text and byte layout (no Ed25519 here) against
# tests/vectors/credential.json.
import json

from protocol import credential
from protocol.reasons import ALL_REASONS, Rejection

with open("tests/vectors/credential.json") as f:
    vectors = json.load(f)

FIELDS = ("ticket_id", "event_id", "zone", "valid_from", "valid_until", "entries", "key_id")


def claims_of(fields):
    return credential.TicketClaims(*[fields[name] for name in FIELDS])


count = 0
for case in vectors["valid"]:
    claims = claims_of(case["claims"])
    payload = bytes.fromhex(case["payload_hex"])
    signature = bytes.fromhex(case["signature_hex"])
    assert credential.encode_payload(claims) == payload, case["name"]
    assert credential.decode_payload(payload) == claims, case["name"]
    assert credential.pack(payload, signature) == case["text"], case["name"]
    assert len(case["text"]) == case["length"], case["name"]
    parsed = credential.parse(case["text"])
    assert not isinstance(parsed, Rejection), (case["name"], parsed)
    assert parsed == credential.ParsedCredential(claims, payload, signature), case["name"]
    assert credential.parse(case["text"].encode()) == parsed, case["name"]
    count += 1

for case in vectors["accepted_variants"]:
    text = case["text"] if "text" in case else bytes.fromhex(case["text_hex"])
    assert credential.parse(text) == credential.parse(case["same_as"]), case["name"]
    count += 1

for case in vectors["rejected"]:
    text = case["text"] if "text" in case else bytes.fromhex(case["text_hex"])
    result = credential.parse(text)
    if case["stage"] == "parse":
        assert isinstance(result, Rejection), (case["name"], result)
        assert result.reason == case["reason"], (case["name"], result)
        assert result.reason in ALL_REASONS
    else:
        # Rejected only by the signature or window check, which MicroPython does not run here.
        assert not isinstance(result, Rejection), (case["name"], result)
    count += 1

for case in vectors["varints"]:
    encoded = bytes.fromhex(case["hex"])
    assert credential.encode_varint(case["value"]) == encoded, case
    assert credential.decode_varint(encoded, 0) == (case["value"], len(encoded)), case
    count += 1

for case in vectors["bad_varints"]:
    try:
        credential.decode_varint(bytes.fromhex(case["hex"]), 0)
    except ValueError:
        count += 1
        continue
    raise AssertionError("accepted bad varint " + repr(case))

for junk in (None, 42, [], b"\xff" * 10, "x" * 100000, bytearray(b"  "), "\u4e2d\u6587"):
    assert isinstance(credential.parse(junk), Rejection), junk
    count += 1

print("credential vectors:", count)
print("OK")
