"""Normalisation of identification data (names, emails, phones), shared by contacts, identity and the gateway so
that a value means the same everywhere. Pure functions, no I/O."""

from __future__ import annotations

import re
import unicodedata

import phonenumbers
from email_validator import EmailNotValidError, validate_email

DEFAULT_PHONE_REGION = "VN"
_SPACES = re.compile(r"\s+")
_BLANKS = re.compile(r"[ \t]+")


def normalise_name(raw: str) -> str:
    """NFC with single spaces; diacritics are kept exactly ("Nguyễn" stays "Nguyễn")."""
    name = _SPACES.sub(" ", unicodedata.normalize("NFC", raw)).strip()
    if not name:
        raise ValueError("name must not be blank")
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise ValueError("name must not contain control characters")
    return name


def fold(text: str) -> str:
    """Accent-folded, lower-case search key: "Nguyễn Thị Minh Khai" -> "nguyen thi minh khai" (đ -> d)."""
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    stripped = "".join(ch for ch in text if unicodedata.category(ch) != "Mn")
    return _SPACES.sub(" ", stripped).strip().lower()


def normalise_email(raw: str) -> str:
    """Syntax-checked, domain lower-cased (the local part is kept: some providers are case-sensitive)."""
    try:
        result = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as e:
        raise ValueError(str(e)) from None
    return result.normalized


def normalise_phone(raw: str, default_region: str = DEFAULT_PHONE_REGION) -> str:
    """E.164: "0912 345 678" (VN) -> "+84912345678"; "+1 (415) 555-2671" -> "+14155552671"."""
    try:
        parsed = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as e:
        raise ValueError(f"not a phone number: {e}") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError("not a valid phone number for its region")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalise_text(raw: str) -> str:
    """Free text and address parts: NFC, trimmed, runs of spaces and tabs collapsed (line breaks are kept)."""
    return _BLANKS.sub(" ", unicodedata.normalize("NFC", raw)).strip()
