"""The server's one translation layer: messages keyed by stable ids, in zh-CN and en.

Each package registers its own messages at import time, keyed by id, every id in every
language::

    register_messages({
        "catalog.event_not_found": {"zh-CN": "活动不存在", "en": "Event not found"},
    })

Ids are namespaced by package (``accounts.*``, ``catalog.*``). Parameters use ``str.format``
names: ``translate("sms.login_code", "en", code="123456", minutes=5)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SUPPORTED_LANGUAGES: tuple[str, ...] = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"

_catalog: dict[str, dict[str, str]] = {}


class CatalogError(ValueError):
    """A message registration that would leave the catalog incomplete or ambiguous."""


def register_messages(messages: Mapping[str, Mapping[str, str]]) -> None:
    """Add messages ``{id: {language: text}}``; every id needs every supported language.

    Registering the same id again with the same texts is a no-op (modules may be re-imported);
    different texts for an existing id are an error.
    """
    for key, texts in messages.items():
        missing = [lang for lang in SUPPORTED_LANGUAGES if lang not in texts]
        if missing:
            raise CatalogError(f"message {key!r} lacks {', '.join(missing)}")
        existing = _catalog.get(key)
        if existing is not None and existing != dict(texts):
            raise CatalogError(f"message {key!r} is already registered with other texts")
        _catalog[key] = dict(texts)


def has_message(key: str) -> bool:
    return key in _catalog


def registered_keys() -> frozenset[str]:
    return frozenset(_catalog)


def translate(key: str, language: str | None = None, **params: Any) -> str:
    """The text for ``key`` in ``language`` (falls back to the default language, then to the
    key itself so a missing message is visible rather than fatal)."""
    texts = _catalog.get(key)
    if texts is None:
        return key
    template = texts.get(match_language(language)) or texts[DEFAULT_LANGUAGE]
    try:
        return template.format(**params)
    except (KeyError, IndexError):
        return template


def match_language(language: str | None, default: str = DEFAULT_LANGUAGE) -> str:
    """Map a language tag (``zh``, ``zh-Hans-CN``, ``en-GB``) to a supported language."""
    if not language:
        return default
    tag = language.strip().replace("_", "-").lower()
    for supported in SUPPORTED_LANGUAGES:
        if tag == supported.lower():
            return supported
    primary = tag.split("-", 1)[0]
    for supported in SUPPORTED_LANGUAGES:
        if supported.lower().split("-", 1)[0] == primary:
            return supported
    return default


def language_from_accept_language(header: str | None, default: str = DEFAULT_LANGUAGE) -> str:
    """The best supported language in an ``Accept-Language`` header, else ``default``.

    Entries are tried in order of their q-value; malformed entries are ignored.
    """
    if not header:
        return default
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        pieces = part.strip().split(";")
        tag = pieces[0].strip()
        if not tag or tag == "*":
            continue
        quality = 1.0
        for parameter in pieces[1:]:
            name, _, value = parameter.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = -1.0
        if quality > 0:
            weighted.append((-quality, position, tag))
    for _, _, tag in sorted(weighted):
        matched = match_language(tag, default="")
        if matched:
            return matched
    return default
