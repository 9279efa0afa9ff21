"""Data health: how complete a profile is and how fresh its data. Contact data decays by 22-30% a year, so a value
not observed or verified for a year is as good as unknown."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

KEY_FIELDS: tuple[str, ...] = (
    "full_name",
    "emails",
    "phones",
    "birth_date",
    "addresses",
    "preferred_channel",
    "descriptive.occupation",
    "interests",
)
STALE_AFTER = timedelta(days=365)


@dataclass(frozen=True)
class Health:
    completeness: float
    freshness: float
    score: float
    missing: list[str]
    stale: bool


def assess(golden: dict[str, Any], provenance: dict[str, dict[str, Any]], now: datetime) -> Health:
    missing = [f for f in KEY_FIELDS if golden.get(f) in (None, [], "", {})]
    completeness = 1 - len(missing) / len(KEY_FIELDS)
    latest = [
        max(p["observed_at"], p.get("verified_at") or p["observed_at"])
        for f, p in provenance.items()
        if f.split("[")[0] in KEY_FIELDS
    ]
    if latest:
        age = now - max(latest)
        freshness = max(0.0, 1 - age / STALE_AFTER)
    else:
        freshness = 0.0
    return Health(
        completeness=round(completeness, 3),
        freshness=round(freshness, 3),
        score=round(0.6 * completeness + 0.4 * freshness, 3),
        missing=missing,
        stale=freshness == 0.0,
    )
