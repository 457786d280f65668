"""Every reason has a screen and voice text in every language."""

from __future__ import annotations

import pytest

from kiosk.i18n import LANGUAGES, texts_for
from protocol import reasons


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("reason", reasons.ALL_REASONS)
def test_every_reason_is_translated(language: str, reason: str) -> None:
    text = texts_for(language).for_reason(reason)
    assert text.title and text.hint and text.voice


def test_languages_differ() -> None:
    assert texts_for("zh-CN").for_reason(reasons.ADMITTED) != texts_for("en").for_reason(
        reasons.ADMITTED
    )
    assert texts_for("en").idle().title == "Scan your ticket"


def test_unknown_reason_falls_back_to_a_refusal() -> None:
    assert texts_for("en").for_reason("from_the_future") == texts_for("en").for_reason(
        reasons.MALFORMED
    )


def test_unknown_language() -> None:
    with pytest.raises(ValueError, match="language"):
        texts_for("fr")
