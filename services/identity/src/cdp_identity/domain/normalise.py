"""Normalising what sources say about a person before matching: names as token sets (Vietnamese puts the family
name first, so order is ignored), exact with accents and, as a weaker level, accent-folded (đ -> d); canonical
emails (gmail dots and +tags); E.164 phones with a default region; junk values that must never link anyone."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date

from cdp_common.identifiers import fold, normalise_email, normalise_phone

JUNK_EMAILS = frozenset(
    {
        "test@test.com",
        "a@a.com",
        "noemail@gmail.com",
        "none@none.com",
        "no@email.com",
        "abc@abc.com",
        "khongco@gmail.com",
        "test@gmail.com",
        "example@example.com",
    }
)
JUNK_TEXT = frozenset({"", "n/a", "na", "none", "null", "unknown", "khong", "không", "không có", "-", "x", "test"})
GMAIL = frozenset({"gmail.com", "googlemail.com"})


def canonical_email(raw: str) -> str | None:
    try:
        email = normalise_email(raw).lower()
    except ValueError:
        return None
    local, domain = email.rsplit("@", 1)
    local = local.split("+", 1)[0]
    if domain in GMAIL:
        local, domain = local.replace(".", ""), "gmail.com"
    email = f"{local}@{domain}"
    return None if email in JUNK_EMAILS or local in JUNK_TEXT else email


def canonical_phone(raw: str, region: str = "VN") -> str | None:
    digits = "".join(ch for ch in raw if ch.isdigit())
    if not digits or len(set(digits)) <= 2:  # 0000000000, 0123123123-like fillers carry no identity
        return None
    try:
        return normalise_phone(raw, region)
    except ValueError:
        return None


def name_tokens(raw: str | None) -> tuple[frozenset[str], frozenset[str]]:
    """(exact tokens with accents, accent-folded tokens); empty for junk."""
    if not raw:
        return frozenset(), frozenset()
    text = unicodedata.normalize("NFC", raw).strip().lower()
    if text in JUNK_TEXT:
        return frozenset(), frozenset()
    exact = frozenset(t for t in text.replace(",", " ").replace(".", " ").split() if t)
    return exact, frozenset(fold(t) for t in exact)


@dataclass(frozen=True)
class Profile:
    """One source record, normalised: what matching compares."""

    key: str
    source: str
    name_exact: frozenset[str] = frozenset()
    name_folded: frozenset[str] = frozenset()
    birth_date: date | None = None
    emails: frozenset[str] = frozenset()
    phones: frozenset[str] = frozenset()
    verified_emails: frozenset[str] = frozenset()
    verified_phones: frozenset[str] = frozenset()
    external_ids: dict[str, str] = field(default_factory=dict)  # "<source>:<kind>" -> value
    city: str | None = None

    def strong_identifiers(self) -> list[str]:
        out = [f"email:{e}" for e in sorted(self.emails)] + [f"phone:{p}" for p in sorted(self.phones)]
        return out + [f"ext:{k}:{v}" for k, v in sorted(self.external_ids.items())]

    def blocking_keys(self) -> list[str]:
        keys = self.strong_identifiers()
        if self.name_folded:
            keys.append("name:" + " ".join(sorted(self.name_folded)))
            if d := self.birth_date:
                dates = [d.isoformat()]
                if d.day <= 12 and d.day != d.month:  # typed the other way round, it is still a date
                    dates.append(f"{d.year:04d}-{d.day:02d}-{d.month:02d}")
                keys += [f"tokbd:{t}:{day}" for day in dates for t in sorted(self.name_folded)]
        return keys


def profile_of(
    key: str,
    source: str,
    *,
    full_name: str | None,
    birth_date: date | None,
    emails: list[str],
    phones: list[str],
    verified_emails: list[str] = (),  # type: ignore[assignment]
    verified_phones: list[str] = (),  # type: ignore[assignment]
    external_ids: dict[str, str] | None = None,
    city: str | None = None,
) -> Profile:
    exact, folded = name_tokens(full_name)
    em = frozenset(e for e in (canonical_email(x) for x in emails) if e)
    ph = frozenset(p for p in (canonical_phone(x) for x in phones) if p)
    vem = frozenset(e for e in (canonical_email(x) for x in verified_emails) if e)
    vph = frozenset(p for p in (canonical_phone(x) for x in verified_phones) if p)
    ext = {
        f"{source}:{k}": v.strip() for k, v in (external_ids or {}).items() if v and v.strip().lower() not in JUNK_TEXT
    }
    return Profile(
        key, source, exact, folded, birth_date, em | vem, ph | vph, vem, vph, ext, fold(city) if city else None
    )
