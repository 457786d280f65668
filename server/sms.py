"""Sending text messages: a small interface and the senders that come with the server.

A real gateway (Aliyun SMS, Tencent Cloud SMS) plugs in by naming a factory in
``ADMIT_SMS_SENDER=package.module:make_sender``; the factory takes the settings and returns an
object with ``send(phone, text)``. Texts are composed by callers through :mod:`server.i18n`.
"""

from __future__ import annotations

import importlib
import logging
import threading
from dataclasses import dataclass
from typing import Protocol

from server.settings import Settings

log = logging.getLogger(__name__)


class SmsSender(Protocol):
    def send(self, phone: str, text: str) -> None:
        """Deliver ``text`` to ``phone`` (E.164); raise on failure."""


class LogSmsSender:
    """Writes each message to the log: the default, for development and single-site installs."""

    def send(self, phone: str, text: str) -> None:
        log.info("sms to %s: %s", phone, text, extra={"sms_phone": phone})


@dataclass(frozen=True)
class SentSms:
    phone: str
    text: str


class OutboxSmsSender:
    """Keeps messages in memory, for tests and the demo to read back."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[SentSms] = []

    def send(self, phone: str, text: str) -> None:
        with self._lock:
            self._messages.append(SentSms(phone, text))

    @property
    def messages(self) -> list[SentSms]:
        with self._lock:
            return list(self._messages)

    def last_to(self, phone: str) -> SentSms | None:
        with self._lock:
            for message in reversed(self._messages):
                if message.phone == phone:
                    return message
        return None


def make_sms_sender(settings: Settings) -> SmsSender:
    """The sender named by ``settings.sms_sender``: "log", "outbox" or "module:factory"."""
    name = settings.sms_sender
    if name == "log":
        return LogSmsSender()
    if name == "outbox":
        return OutboxSmsSender()
    module_name, _, attribute = name.partition(":")
    if not attribute:
        raise ValueError(f"ADMIT_SMS_SENDER={name!r}: use 'log', 'outbox' or 'module:factory'")
    factory = getattr(importlib.import_module(module_name), attribute)
    sender: SmsSender = factory(settings)
    return sender
