# Runs under MicroPython: protocol/base45.py against tests/vectors/credential.json.
import json

from protocol import base45

with open("tests/vectors/credential.json") as f:
    vectors = json.load(f)

count = 0
for case in vectors["base45"]:
    data = bytes.fromhex(case["bytes_hex"])
    assert base45.encode(data) == case["text"], case
    assert base45.decode(case["text"]) == data, case
    count += 1
for case in vectors["bad_base45"]:
    try:
        base45.decode(case["text"])
    except ValueError:
        count += 1
        continue
    raise AssertionError("accepted bad base45 " + repr(case))
for case in vectors["valid"]:
    assert base45.encode(base45.decode(case["text"])) == case["text"], case
    count += 1
print("base45 vectors:", count)
print("OK")
