"""The golden messages in tests/golden decode, re-encode unchanged, and the invalid ones fail
with their documented reason; protocol/SPEC.md's examples are golden ones on their topics."""

import json
import re
from pathlib import Path

import pytest

from protocol import messages, topics

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def _examples() -> list[tuple[str, dict[str, object]]]:
    found = []
    for path in sorted(GOLDEN.glob("*.json")):
        for example in json.loads(path.read_text(encoding="utf-8")):
            found.append((path.stem, example))
    return found


def _invalid_cases() -> list[tuple[str, dict[str, object]]]:
    return [
        (path.stem, json.loads(path.read_text(encoding="utf-8")))
        for path in sorted((GOLDEN / "invalid").glob("*.json"))
    ]


def _payload(case: dict[str, object]) -> bytes:
    if "hex" in case:
        return bytes.fromhex(str(case["hex"]))
    if "text" in case:
        return str(case["text"]).encode("utf-8")
    return json.dumps(case["message"], separators=(",", ":")).encode("utf-8")


EXAMPLES = _examples()
INVALID = _invalid_cases()


def test_every_kind_has_golden_examples() -> None:
    assert {kind for kind, _ in EXAMPLES} == set(messages.KINDS)


@pytest.mark.parametrize(("kind", "example"), EXAMPLES, ids=[k for k, _ in EXAMPLES])
def test_golden_example_decodes_and_reencodes_unchanged(
    kind: str, example: dict[str, object]
) -> None:
    payload = json.dumps(example).encode("utf-8")
    message = messages.decode(payload)
    assert isinstance(message, messages.KINDS[kind])
    assert message.to_dict() == example
    assert json.loads(messages.encode(message)) == example
    assert messages.decode(messages.encode(message)) == message


@pytest.mark.parametrize(("name", "case"), INVALID, ids=[n for n, _ in INVALID])
def test_invalid_golden_payload_is_rejected_with_its_reason(
    name: str, case: dict[str, object]
) -> None:
    assert sum(key in case for key in ("message", "text", "hex")) == 1, name
    with pytest.raises(messages.MessageError) as caught:
        messages.decode(_payload(case))
    assert caught.value.reason == case["reason"]
    if "command_id" in case:
        assert caught.value.command_id == case["command_id"]


def test_invalid_cases_cover_every_error_reason() -> None:
    reasons = {case["reason"] for _, case in INVALID}
    assert reasons == {
        messages.TOO_LARGE,
        messages.BAD_ENCODING,
        messages.BAD_JSON,
        messages.NOT_OBJECT,
        messages.UNSUPPORTED_VERSION,
        messages.UNKNOWN_KIND,
        messages.MISSING_FIELD,
        messages.BAD_FIELD,
    }


SPEC = Path(__file__).resolve().parents[2] / "protocol" / "SPEC.md"


def _spec_topic_examples() -> dict[str, list[dict[str, object]]]:
    """The ```json examples under each "### `<topic>`" heading of SPEC.md, by topic."""
    examples: dict[str, list[dict[str, object]]] = {}
    text = SPEC.read_text(encoding="utf-8")
    for section in re.split(r"^### ", text, flags=re.MULTILINE)[1:]:
        heading, _, body = section.partition("\n")
        if heading.startswith("`") and heading.endswith("`"):
            blocks = re.findall(r"```json\n(.*?)```", body, flags=re.DOTALL)
            examples[heading.strip("`")] = [json.loads(block) for block in blocks]
    return examples


SPEC_EXAMPLES = _spec_topic_examples()


def test_spec_documents_every_topic_with_an_example() -> None:
    assert len(SPEC_EXAMPLES) == len(topics.GATE_KINDS) + len(topics.SITE_KINDS)
    assert all(SPEC_EXAMPLES.values())


@pytest.mark.parametrize("topic", sorted(SPEC_EXAMPLES))
def test_spec_examples_are_golden_and_belong_on_their_topic(topic: str) -> None:
    golden = [example for _, example in EXAMPLES]
    for example in SPEC_EXAMPLES[topic]:
        message = messages.decode(json.dumps(example))
        assert example in golden
        concrete = (
            topic.replace("<root>", "admit")
            .replace("<site>", str(example.get("site", "expo-hall")))
            .replace("<gate>", str(example.get("gate", "north-1")))
        )
        ref = topics.parse_topic(concrete)
        assert ref is not None, concrete
        assert messages.matches_topic(message, ref)
