"""Fellegi-Sunter scoring with term-frequency adjustment, and the decision rules around it.

Each field comparison falls into a level; a level's weight is log2(m/u): how much likelier that agreement is
between records of one person (m) than between records of two people (u). For names and shared identifiers u is
not a constant: agreeing on "Nguyễn" (about 4 in 10 Vietnamese) says little, agreeing on a rare name says a lot,
and a phone shared by a shop or a family says little. The total is the sum of weights; its explanation lists them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz.distance import JaroWinkler

from cdp_identity.domain.normalise import Profile


@dataclass(frozen=True)
class MatchingConfig:
    version: int = 1
    link_threshold: float = 12.0  # above: link automatically
    review_threshold: float = 5.0  # between: a person reviews it
    name_weight_cap: float = 8.0
    m: dict[str, float] = field(
        default_factory=lambda: {
            "email": 0.9,
            "phone": 0.85,
            "name_exact": 0.8,
            "name_folded": 0.9,
            "name_fuzzy": 0.95,
            "birth_exact": 0.9,
            "birth_swapped": 0.03,
            "birth_year": 0.05,
            "city": 0.8,
        }
    )
    u: dict[str, float] = field(
        default_factory=lambda: {
            "email": 1e-6,
            "phone": 1e-5,
            "name_fuzzy": 0.01,
            "birth_exact": 1 / 20000,
            "birth_swapped": 1 / 40000,
            "birth_year": 1 / 60,
            "city": 0.2,
        }
    )
    disagree: dict[str, float] = field(
        default_factory=lambda: {
            "email": -2.0,
            "phone": -3.0,
            "name": -6.0,
            "birth": -6.0,
            "external_id": -20.0,
        }
    )

    def to_doc(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "link_threshold": self.link_threshold,
            "review_threshold": self.review_threshold,
            "m": self.m,
            "u": self.u,
            "disagree": self.disagree,
        }

    @classmethod
    def from_doc(cls, d: dict[str, Any]) -> MatchingConfig:
        base = cls()
        return cls(
            version=d["version"],
            link_threshold=d["link_threshold"],
            review_threshold=d["review_threshold"],
            m={**base.m, **d.get("m", {})},
            u={**base.u, **d.get("u", {})},
            disagree={**base.disagree, **d.get("disagree", {})},
        )


@dataclass(frozen=True)
class Evidence:
    field: str
    comparison: str
    weight: float


@dataclass(frozen=True)
class Score:
    total: float
    evidence: list[Evidence]
    rule: str
    conflict: str | None = None


class Frequencies:
    """How common a name token is, and how many persons share an identifier (for the u of each agreement). Under
    "name:<folded tokens, sorted>" the identifiers also count the persons holding that very name: a whole name
    borne by many persons ("Nguyễn Phương Thu") agrees by chance more often than its tokens' shares multiplied say."""

    def __init__(self, token_share: dict[str, float], persons_per_identifier: dict[str, int], records: int = 0) -> None:
        self.token_share = token_share
        self.persons_per_identifier = persons_per_identifier
        self.records = records

    def name_u(self, tokens: frozenset[str]) -> float:
        # chance two different people share this token set: product of token shares, floored, and at least the
        # share of the records whose persons bear the whole name
        u = 1.0
        for t in tokens:
            u *= max(self.token_share.get(t, 1e-4), 1e-5)
        holders = self.persons_per_identifier.get("name:" + " ".join(sorted(tokens)), 0)
        if self.records and holders > 1:
            u = max(u, holders / self.records)
        return max(u, 1e-9)


def w(m: float, u: float) -> float:
    return math.log2(m / u)


def compare(a: Profile, b: Profile, cfg: MatchingConfig, freq: Frequencies) -> Score:
    ev: list[Evidence] = []
    # deterministic: a shared verified identifier links, unless protected by a conflict
    conflict = _conflict(a, b)
    verified = (
        (a.verified_emails & (b.emails))
        | (b.verified_emails & a.emails)
        | (a.verified_phones & b.phones)
        | (b.verified_phones & a.phones)
    )
    shared_ext = {k for k in a.external_ids if b.external_ids.get(k) == a.external_ids[k]}
    for k in a.external_ids.keys() & b.external_ids.keys():
        ev.append(
            Evidence(
                f"external_id:{k}",
                "exact" if k in shared_ext else "disagree",
                30.0 if k in shared_ext else cfg.disagree["external_id"],
            )
        )
    for kind, mine, theirs in (("email", a.emails, b.emails), ("phone", a.phones, b.phones)):
        if mine and theirs:
            common = mine & theirs
            if common:
                sharers = max(freq.persons_per_identifier.get(f"{kind}:{x}", 1) for x in common)
                ev.append(
                    Evidence(
                        kind,
                        "exact" if sharers <= 1 else f"exact, shared by {sharers} persons",
                        w(cfg.m[kind], cfg.u[kind] * sharers**2),
                    )
                )
            else:
                ev.append(Evidence(kind, "disagree", cfg.disagree[kind]))
    if a.name_folded and b.name_folded:
        # a name alone never links: however rare, its weight stays below the link threshold
        cap = cfg.name_weight_cap
        if a.name_exact == b.name_exact:
            weight = min(cap, w(cfg.m["name_exact"], freq.name_u(a.name_folded)))
            ev.append(Evidence("name", "exact (token set)", weight))
        elif a.name_folded == b.name_folded:
            weight = min(cap - 1.0, w(cfg.m["name_folded"], freq.name_u(a.name_folded)) - 1.0)
            ev.append(Evidence("name", "accent-folded (token set)", weight))
        else:
            sim = name_similarity(a.name_folded, b.name_folded)
            if sim >= 0.92:
                ev.append(Evidence("name", f"fuzzy {sim:.2f}", w(cfg.m["name_fuzzy"], cfg.u["name_fuzzy"]) - 2.0))
            else:
                ev.append(Evidence("name", f"disagree ({sim:.2f})", cfg.disagree["name"]))
    if a.birth_date and b.birth_date:
        x, y = a.birth_date, b.birth_date
        if x == y:
            ev.append(Evidence("birth_date", "exact", w(cfg.m["birth_exact"], cfg.u["birth_exact"])))
        elif (x.year, x.month, x.day) == (y.year, y.day, y.month):
            ev.append(Evidence("birth_date", "day/month swapped", w(cfg.m["birth_swapped"], cfg.u["birth_swapped"])))
        elif x.year == y.year:
            ev.append(Evidence("birth_date", "same year", w(cfg.m["birth_year"], cfg.u["birth_year"])))
        else:
            ev.append(Evidence("birth_date", "disagree", cfg.disagree["birth"]))
    if a.city and b.city:
        ev.append(
            Evidence(
                "city",
                "exact" if a.city == b.city else "disagree",
                w(cfg.m["city"], cfg.u["city"]) if a.city == b.city else -0.5,
            )
        )
    total = round(sum(e.weight for e in ev), 2)
    if shared_ext and not conflict:
        return Score(max(total, cfg.link_threshold + 1), ev, "deterministic:external_id", conflict)
    if verified and not conflict:
        return Score(max(total, cfg.link_threshold + 1), ev, "deterministic:verified_identifier", conflict)
    return Score(total, ev, "probabilistic", conflict)


def name_similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaro-Winkler of the two names' folded tokens, sorted, or 0.95 when both are the same letters: two letters
    swapped across a space ("Than hYen" for "Thanh Yen") move a letter from one token to the next, so the
    tokens, sorted, no longer line up, although nothing but one slip of the hand changed."""
    sim = JaroWinkler.similarity(" ".join(sorted(a)), " ".join(sorted(b)))
    if sim < 0.95 and sorted("".join(a)) == sorted("".join(b)):
        return 0.95
    return sim


def _conflict(a: Profile, b: Profile) -> str | None:
    """Merge protection: never link automatically across these."""
    for k in a.external_ids.keys() & b.external_ids.keys():
        if a.external_ids[k] != b.external_ids[k]:
            return f"different {k}"
    if a.birth_date and b.birth_date and abs(a.birth_date.year - b.birth_date.year) > 1:
        return "clearly different birth dates"
    return None
