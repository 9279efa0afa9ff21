"""Admin-defined custom fields: a typed definition validates every value written; renaming changes the label only
(values are stored under the immutable key) and retiring hides the field without deleting a stored value."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from cdp_common.identifiers import normalise_email, normalise_phone, normalise_text

FieldType = Literal["text", "number", "date", "boolean", "single_select", "multi_select", "url", "email", "phone"]
FIELD_TYPES: tuple[str, ...] = (
    "text",
    "number",
    "date",
    "boolean",
    "single_select",
    "multi_select",
    "url",
    "email",
    "phone",
)
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
_URL = re.compile(r"^https?://[^\s/$.?#].[^\s]*$", re.IGNORECASE)


class InvalidValue(ValueError):
    pass


@dataclass(frozen=True)
class CustomFieldDefinition:
    key: str
    label: str
    type: FieldType
    options: tuple[str, ...] = ()
    required: bool = False
    min: float | None = None
    max: float | None = None
    max_length: int = 500
    pattern: str | None = None
    retired: bool = False
    version: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    def validate(self, value: Any) -> Any:
        """The stored form of `value`, or `InvalidValue` saying what is wrong (never echoing the value)."""
        if value is None:
            if self.required:
                raise InvalidValue("is required")
            return None
        t = self.type
        if t == "text":
            if not isinstance(value, str):
                raise InvalidValue("must be text")
            v = normalise_text(value)
            if len(v) > self.max_length:
                raise InvalidValue(f"must be at most {self.max_length} characters")
            if self.pattern and not re.fullmatch(self.pattern, v):
                raise InvalidValue("does not match the field's pattern")
            return v
        if t == "number":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidValue("must be a number")
            if self.min is not None and value < self.min:
                raise InvalidValue(f"must be at least {self.min:g}")
            if self.max is not None and value > self.max:
                raise InvalidValue(f"must be at most {self.max:g}")
            return value
        if t == "date":
            try:
                return date.fromisoformat(value).isoformat() if isinstance(value, str) else _bad("a date")
            except ValueError:
                raise InvalidValue("must be a date (YYYY-MM-DD)") from None
        if t == "boolean":
            return value if isinstance(value, bool) else _bad("true or false")
        if t == "single_select":
            if value not in self.options:
                raise InvalidValue(f"must be one of: {', '.join(self.options)}")
            return value
        if t == "multi_select":
            if not isinstance(value, list) or any(v not in self.options for v in value):
                raise InvalidValue(f"must be a list of: {', '.join(self.options)}")
            return sorted(set(value), key=list(self.options).index)
        if t == "url":
            if not isinstance(value, str) or not _URL.match(value.strip()):
                raise InvalidValue("must be an http(s) URL")
            return value.strip()
        if t == "email":
            try:
                return normalise_email(value) if isinstance(value, str) else _bad("an email address")
            except ValueError:
                raise InvalidValue("must be an email address") from None
        if t == "phone":
            try:
                return normalise_phone(value) if isinstance(value, str) else _bad("a phone number")
            except ValueError:
                raise InvalidValue("must be a valid phone number") from None
        raise InvalidValue(f"has unknown type {t}")

    def to_doc(self) -> dict[str, Any]:
        return {
            "_id": self.key,
            "label": self.label,
            "type": self.type,
            "options": list(self.options),
            "required": self.required,
            "min": self.min,
            "max": self.max,
            "max_length": self.max_length,
            "pattern": self.pattern,
            "retired": self.retired,
            "version": self.version,
        }

    @classmethod
    def from_doc(cls, d: dict[str, Any]) -> CustomFieldDefinition:
        return cls(
            key=d["_id"],
            label=d["label"],
            type=d["type"],
            options=tuple(d.get("options", [])),
            required=d.get("required", False),
            min=d.get("min"),
            max=d.get("max"),
            max_length=d.get("max_length", 500),
            pattern=d.get("pattern"),
            retired=d.get("retired", False),
            version=d.get("version", 1),
        )


def _bad(what: str) -> Any:
    raise InvalidValue(f"must be {what}")


def validate_values(
    values: dict[str, Any], definitions: dict[str, CustomFieldDefinition]
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Validated values and per-field errors (`custom_fields.<key>`); unknown or retired keys are errors."""
    out: dict[str, Any] = {}
    errors: list[dict[str, str]] = []
    for key, raw in values.items():
        d = definitions.get(key)
        if d is None or d.retired:
            errors.append({"field": f"custom_fields.{key}", "message": "no such active custom field"})
            continue
        try:
            out[key] = d.validate(raw)
        except InvalidValue as e:
            errors.append({"field": f"custom_fields.{key}", "message": f"{d.label} {e}"})
    return out, errors
