"""Which holder details a ticket type asks for, and checking one ticket's details against that.

Pure logic: no database, no clock. A ticket type's ``holder_fields`` column stores a
:class:`HolderFieldConfig` as JSON; sales validates each ticket's holder with
:func:`validate_holder` before it goes into a cart or an order.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel, Field, field_validator

from server.errors import Invalid
from server.phones import normalize_phone

FIELD_KEY_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
MAX_CUSTOM_FIELDS = 10
MAX_FIELD_VALUE_LENGTH = 200

#: Weights of the ISO 7064 MOD 11-2 check of mainland China resident identity numbers.
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS = "10X98765432"
_ID_PATTERN = re.compile(r"^\d{17}[\dX]$")


class Requirement(enum.StrEnum):
    REQUIRED = "required"
    OPTIONAL = "optional"
    HIDDEN = "hidden"


class CustomFieldKind(enum.StrEnum):
    TEXT = "text"
    #: A mainland China resident identity number (18 characters, check character verified).
    ID_NUMBER = "id_number"


class CustomField(BaseModel):
    key: str = Field(pattern=FIELD_KEY_PATTERN, description="Stable key, e.g. id_number")
    label: str = Field(min_length=1, max_length=100, description="What the form shows")
    kind: CustomFieldKind = CustomFieldKind.TEXT
    required: bool = False


class HolderFieldConfig(BaseModel):
    """What each ticket of a type records about its holder."""

    name: Requirement = Requirement.OPTIONAL
    phone: Requirement = Requirement.OPTIONAL
    custom: list[CustomField] = Field(default_factory=list, max_length=MAX_CUSTOM_FIELDS)

    @field_validator("custom")
    @classmethod
    def _unique_keys(cls, fields: list[CustomField]) -> list[CustomField]:
        keys = [field.key for field in fields]
        if len(keys) != len(set(keys)):
            raise ValueError("custom field keys must be unique")
        return fields


@dataclass(frozen=True)
class HolderDetails:
    """One ticket's holder, cleaned: phone in E.164, custom values keyed by field key."""

    name: str | None
    phone: str | None
    fields: dict[str, str]


def normalize_id_number(text: str) -> str | None:
    """An 18-character resident identity number with a correct check character, upper-cased;
    None for anything else."""
    candidate = text.strip().upper()
    if not _ID_PATTERN.match(candidate):
        return None
    total = sum(int(digit) * weight for digit, weight in zip(candidate, _ID_WEIGHTS, strict=False))
    if _ID_CHECK_CHARS[total % 11] != candidate[-1]:
        return None
    try:
        date(int(candidate[6:10]), int(candidate[10:12]), int(candidate[12:14]))
    except ValueError:
        return None
    return candidate


def _clean_text(value: str | None) -> str | None:
    if value is None:
        return None
    stripped = value.strip()
    return stripped or None


def _require(requirement: Requirement, value: str | None, field: str) -> str | None:
    if requirement is Requirement.HIDDEN:
        return None
    if value is None and requirement is Requirement.REQUIRED:
        raise Invalid("catalog.holder_field_required", field=field, detail={"field": field})
    return value


def validate_holder(
    config: HolderFieldConfig,
    *,
    name: str | None,
    phone: str | None,
    fields: dict[str, Any] | None,
) -> HolderDetails:
    """Check one ticket's holder details against ``config``.

    Hidden fields are dropped, required ones must be present, the phone is normalised to E.164
    (+86 by default), ID numbers are checked, unknown custom keys are refused. Raises
    :class:`server.errors.Invalid` naming the field.
    """
    clean_name = _require(config.name, _clean_text(name), "name")
    if clean_name is not None and len(clean_name) > MAX_FIELD_VALUE_LENGTH:
        raise Invalid("catalog.holder_field_too_long", field="name", detail={"field": "name"})
    clean_phone = _require(config.phone, _clean_text(phone), "phone")
    if clean_phone is not None:
        clean_phone = normalize_phone(clean_phone)
    given = dict(fields or {})
    known = {field.key for field in config.custom}
    unknown = sorted(set(given) - known)
    if unknown:
        raise Invalid(
            "catalog.holder_field_unknown", field=unknown[0], detail={"field": unknown[0]}
        )
    cleaned: dict[str, str] = {}
    for field in config.custom:
        raw = given.get(field.key)
        value = _clean_text(raw if isinstance(raw, str) else None if raw is None else str(raw))
        if value is None:
            if field.required:
                raise Invalid(
                    "catalog.holder_field_required", field=field.label, detail={"field": field.key}
                )
            continue
        if len(value) > MAX_FIELD_VALUE_LENGTH:
            raise Invalid(
                "catalog.holder_field_too_long", field=field.label, detail={"field": field.key}
            )
        if field.kind is CustomFieldKind.ID_NUMBER:
            id_number = normalize_id_number(value)
            if id_number is None:
                raise Invalid(
                    "catalog.holder_id_number_invalid",
                    field=field.label,
                    detail={"field": field.key},
                )
            value = id_number
        cleaned[field.key] = value
    return HolderDetails(name=clean_name, phone=clean_phone, fields=cleaned)
