"""The translation layer: registration rules, formatting, language negotiation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server import errors  # noqa: F401  (registers the generic error texts)
from server.i18n import (
    SUPPORTED_LANGUAGES,
    CatalogError,
    language_from_accept_language,
    match_language,
    register_messages,
    registered_keys,
    translate,
)


def test_every_message_has_every_language_and_formats_without_error() -> None:
    for key in registered_keys():
        for language in SUPPORTED_LANGUAGES:
            assert translate(key, language, retry_after=1, status="x")


def test_a_message_missing_a_language_is_refused() -> None:
    with pytest.raises(CatalogError, match="lacks en"):
        register_messages({"test.only_chinese": {"zh-CN": "只有中文"}})


def test_re_registering_different_text_is_refused_and_same_text_is_fine() -> None:
    texts = {"zh-CN": "测试", "en": "test"}
    register_messages({"test.same": texts})
    register_messages({"test.same": dict(texts)})
    with pytest.raises(CatalogError):
        register_messages({"test.same": {"zh-CN": "测试", "en": "other"}})


def test_translate_formats_parameters_and_falls_back() -> None:
    register_messages({"test.hello": {"zh-CN": "你好，{name}", "en": "Hello, {name}"}})
    assert translate("test.hello", "en", name="Li") == "Hello, Li"
    assert translate("test.hello", "fr", name="Li") == "你好，Li"
    assert translate("test.hello", "en") == "Hello, {name}"
    assert translate("test.never_registered", "en") == "test.never_registered"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("en-US,en;q=0.9", "en"),
        ("zh-Hans-CN", "zh-CN"),
        ("fr-FR, en;q=0.5, zh;q=0.8", "zh-CN"),
        ("en;q=0, zh;q=0.1", "zh-CN"),
        ("de", "zh-CN"),
        ("", "zh-CN"),
        ("en;q=abc", "zh-CN"),
    ],
)
def test_accept_language(header: str, expected: str) -> None:
    assert language_from_accept_language(header) == expected


def test_accept_language_default_is_the_callers() -> None:
    assert language_from_accept_language("de", default="en") == "en"
    assert match_language("EN_gb") == "en"


@given(st.text(max_size=200))
def test_any_accept_language_header_yields_a_supported_language(header: str) -> None:
    assert language_from_accept_language(header) in SUPPORTED_LANGUAGES
