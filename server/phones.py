"""Phone numbers: the visitor's identity, always stored and compared in E.164 form."""

from __future__ import annotations

import phonenumbers

from server.errors import Invalid
from server.i18n import register_messages

DEFAULT_REGION = "CN"

register_messages(
    {
        "phone_invalid": {"zh-CN": "手机号码格式不正确", "en": "That phone number is not valid"},
    }
)


def normalize_phone(text: str, region: str = DEFAULT_REGION) -> str:
    """``text`` as E.164 (``+8613800138000``); numbers without ``+`` are read in ``region``.

    Raises :class:`server.errors.Invalid` (code ``phone_invalid``) for anything that is not a
    valid number.
    """
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise Invalid("phone_invalid", detail={"phone": text}) from exc
    if not phonenumbers.is_valid_number(number):
        raise Invalid("phone_invalid", detail={"phone": text})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(e164: str) -> str:
    """``+8613800138000`` -> ``+86138****8000`` for lists shown to staff and logs."""
    if len(e164) < 8:
        return e164
    return e164[:-8] + "****" + e164[-4:]
