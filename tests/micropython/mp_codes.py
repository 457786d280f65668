# Runs under MicroPython: protocol/codes.py against tests/vectors/codes.json.
import json

from protocol import codes

with open("tests/vectors/codes.json") as f:
    vectors = json.load(f)

count = 0
for case in vectors["codes"]:
    code = codes.new_code(case["number"])
    assert code == case["code"], case
    assert codes.is_valid(code), case
    assert codes.normalize(codes.format_code(code)) == code, case
    count += 1

for case in vectors["inputs"]:
    assert codes.normalize(case["input"]) == case["normalized"], case
    assert codes.is_valid(case["input"]) == case["valid"], case
    count += 1

for _ in range(20):
    assert codes.is_valid(codes.random_code())
    count += 1

print("code vectors:", count)
print("OK")
