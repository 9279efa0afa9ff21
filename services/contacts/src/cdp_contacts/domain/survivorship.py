"""Which value survives when several sources give one for the same field, and why.

Every value a source gives is kept as a `Candidate` (with the contact it came with, so a merge can be undone);
the golden value of a field is chosen from its candidates by the field's rule in the `SurvivorshipPolicy`.
List fields (emails, phones, ...) are the union of their candidates' items, minus what staff removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from cdp_common.identifiers import fold

Strategy = Literal["staff_then_priority", "most_recent", "source_priority", "most_complete"]
STRATEGIES: tuple[str, ...] = ("staff_then_priority", "most_recent", "source_priority", "most_complete")

SCALAR_FIELDS: tuple[str, ...] = (
    "full_name",
    "birth_date",
    "gender",
    "preferred_channel",
    "descriptive.education_level",
    "descriptive.occupation",
    "descriptive.income_band",
    "descriptive.family",
    "descriptive.lifestyle_notes",
    "relationship.heard_about_us",
    "relationship.first_impression",
    "relationship.alternatives_considered",
    "relationship.competitor_likes",
    "relationship.first_transaction",
    "relationship.ended",
)


def _social_key(v: dict[str, Any]) -> str:
    return f"{v.get('network')}:{(v.get('handle') or v.get('url') or '').lower()}"


def _address_key(v: dict[str, Any]) -> str:
    return fold(f"{v.get('line1', '')}|{v.get('line2') or ''}|{v.get('city', '')}|{v.get('country', '')}")


LIST_FIELDS: dict[str, Any] = {
    "emails": lambda v: v["address"].lower(),
    "phones": lambda v: v["number"],
    "addresses": _address_key,
    "social_profiles": _social_key,
    "interests": lambda v: fold(v),
}
ALL_FIELDS: tuple[str, ...] = SCALAR_FIELDS + tuple(LIST_FIELDS)


@dataclass(frozen=True)
class Candidate:
    value: Any
    source: str
    observed_at: datetime
    origin: str = field(metadata={"doc": "the contact this value came with; a merge undo returns it there"})
    staff: bool = False
    verified_at: datetime | None = None

    def to_doc(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "source": self.source,
            "observed_at": self.observed_at,
            "origin": self.origin,
            "staff": self.staff,
            "verified_at": self.verified_at,
        }

    @classmethod
    def from_doc(cls, d: dict[str, Any]) -> Candidate:
        return cls(d["value"], d["source"], d["observed_at"], d["origin"], d.get("staff", False), d.get("verified_at"))


@dataclass(frozen=True)
class Choice:
    value: Any
    source: str | None
    observed_at: datetime | None
    verified_at: datetime | None
    rule: str
    considered: int


def _accents(text: str) -> int:
    return sum(1 for a, b in zip(text, fold(text), strict=False) if a.lower() != b)


def _with_accents(best: Candidate, others: list[Candidate]) -> Candidate | None:
    """Another candidate saying the same name (same words once accents are folded, in any order) with more
    accents than the winner: sources without Vietnamese input (web forms, tills) drop them, no source adds any."""
    words = sorted(fold(best.value).lower().split())
    found = [
        c
        for c in others
        if isinstance(c.value, str)
        and sorted(fold(c.value).lower().split()) == words
        and _accents(c.value) > _accents(best.value)
    ]
    return max(found, key=lambda c: _accents(c.value)) if found else None


DEFAULT_PRIORITY: tuple[str, ...] = ("staff", "ecommerce", "shop-till", "support", "contest", "social")


@dataclass(frozen=True)
class SurvivorshipPolicy:
    """Versioned rules: a default strategy, per-field overrides, and the source priority (most trusted first)."""

    version: int = 1
    source_priority: tuple[str, ...] = DEFAULT_PRIORITY
    default_strategy: Strategy = "staff_then_priority"
    field_strategies: dict[str, Strategy] = field(default_factory=dict)

    def strategy_for(self, path: str) -> Strategy:
        return self.field_strategies.get(path, self.default_strategy)

    def _rank(self, source: str) -> int:
        try:
            return self.source_priority.index(source)
        except ValueError:
            return len(self.source_priority)

    def ordered(self, path: str, candidates: list[Candidate]) -> tuple[list[Candidate], str]:
        """Candidates best first under the field's strategy, and the name of the rule that ordered them."""
        strategy = self.strategy_for(path)
        if strategy == "most_recent":
            return sorted(candidates, key=lambda c: (-_recency(c), not c.staff)), "most_recent"
        if strategy == "source_priority":
            return sorted(candidates, key=lambda c: (self._rank(c.source), -_recency(c))), "source_priority"
        if strategy == "most_complete":
            return sorted(candidates, key=lambda c: (-completeness(c.value), -_recency(c))), "most_complete"
        staff = [c for c in candidates if c.staff]
        if staff:
            rest = [c for c in candidates if not c.staff]
            return sorted(staff, key=lambda c: -_recency(c)) + sorted(
                rest, key=lambda c: (self._rank(c.source), -_recency(c))
            ), "staff_edit_wins"
        return sorted(candidates, key=lambda c: (self._rank(c.source), -_recency(c))), "source_priority"

    def choose(self, path: str, candidates: list[Candidate]) -> Choice:
        if not candidates:
            return Choice(None, None, None, None, "no_value", 0)
        ordered, rule = self.ordered(path, candidates)
        best = ordered[0]
        if path == "full_name" and isinstance(best.value, str):
            richer = _with_accents(best, ordered[1:])
            if richer is not None:  # the same name, written fully: "Vu Thanh Trang" is "Vũ Thanh Trang"
                return Choice(
                    richer.value,
                    richer.source,
                    richer.observed_at,
                    richer.verified_at,
                    f"{rule}; the same name with its accents",
                    len(candidates),
                )
        return Choice(best.value, best.source, best.observed_at, best.verified_at, rule, len(candidates))

    def union(
        self, path: str, candidates: list[Candidate], suppressed: dict[str, datetime]
    ) -> tuple[list[Any], list[Choice]]:
        """List fields: every item any candidate has (best candidate's copy first), minus items staff removed
        after they were last observed."""
        key_of = LIST_FIELDS[path]
        ordered, rule = self.ordered(path, candidates)
        items: dict[str, tuple[Any, Candidate]] = {}
        for cand in ordered:
            for item in cand.value or []:
                k = key_of(item)
                removed_at = suppressed.get(k)
                if removed_at is not None and cand.observed_at <= removed_at:
                    continue
                if k not in items:
                    items[k] = (item, cand)
        values = [v for v, _ in items.values()]
        choices = [Choice(v, c.source, c.observed_at, c.verified_at, rule, len(candidates)) for v, c in items.values()]
        return values, choices

    def to_doc(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "source_priority": list(self.source_priority),
            "default_strategy": self.default_strategy,
            "field_strategies": dict(self.field_strategies),
        }

    @classmethod
    def from_doc(cls, d: dict[str, Any]) -> SurvivorshipPolicy:
        return cls(
            version=d["version"],
            source_priority=tuple(d["source_priority"]),
            default_strategy=d["default_strategy"],
            field_strategies=dict(d.get("field_strategies", {})),
        )


def _recency(c: Candidate) -> float:
    return c.observed_at.timestamp()


def completeness(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, str):
        return len(value.strip())
    if isinstance(value, dict):
        return sum(completeness(v) > 0 for v in value.values())
    if isinstance(value, list):
        return len(value)
    return 1
