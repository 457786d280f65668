# Runs under MicroPython: protocol/allowlist.py against tests/vectors/allowlist.json.
import json

from protocol.allowlist import ListDigest, hash_code

with open("tests/vectors/allowlist.json") as f:
    vectors = json.load(f)

count = 0
for case in vectors["hashes"]:
    assert hash_code(case["code"], case["salt"]) == case["hash"], case
    count += 1

for case in vectors["digests"]:
    digest = ListDigest.of(case["entries"])
    assert digest.hex() == case["hex"], case
    assert ListDigest.of(reversed(case["entries"])) == digest, case
    assert ListDigest.from_hex(case["hex"].upper()) == digest, case
    count += 1

delta = vectors["delta"]
digest = ListDigest.of(delta["base"])
assert digest.hex() == delta["hex_before"]
for entry in delta["added"]:
    digest.add(entry)
for entry in delta["removed"]:
    digest.remove(entry)
assert digest.hex() == delta["hex_after"]
count += 1

print("allowlist vectors:", count)
print("OK")
