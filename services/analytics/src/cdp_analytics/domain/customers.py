"""Each customer's relationship, read from their facts: buying rhythm and dormancy, RFM scores, journey stage.

Dormancy ("silent period") is judged against the customer's own rhythm, not one threshold for everybody: a weekly
coffee buyer silent for a month is unusual, a yearly gift buyer silent for two months is not. The rhythm is the
median gap between purchase days; the spread is the median absolute deviation of those gaps (scaled to a standard
deviation). Silence counts as unusual past `max(expected x min_ratio, expected + spread_factor x spread, floor)`.
A customer needs `min_purchases` purchases before a rhythm is claimed at all."""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

ENGAGEMENT = frozenset(
    {
        "web.visited",
        "email.opened",
        "email.clicked",
        "social.interacted",
        "lead.form_submitted",
        "lead.qualified",
        "deal.opened",
        "ticket.opened",
        "call.logged",
        "survey.answered",
    }
)
DAY = 86_400.0


@dataclass
class Customer:
    contact_id: str
    purchases: list[tuple[datetime, float]] = field(default_factory=list)  # (when, amount), one per paid order
    last_activity: datetime | None = None
    engaged: bool = False
    referrals: int = 0
    best_nps: int | None = None


def by_subject(facts: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Facts grouped by the person (or campaign) they are about."""
    out: dict[str, list[dict[str, Any]]] = {}
    for f in facts:
        out.setdefault(f["subject"], []).append(f)
    return out


def customers_from(facts: Iterable[dict[str, Any]]) -> dict[str, Customer]:
    """Group facts by subject into customers (facts are one per event, so a replay builds the same customers)."""
    out: dict[str, Customer] = {}
    for f in facts:
        kind, subject, at = f["kind"], f["subject"], f["at"]
        if kind == "marketing.spend_recorded":
            continue
        c = out.setdefault(subject, Customer(subject))
        if kind == "order.paid":
            c.purchases.append((at, float(f.get("amount") or 0.0)))
        elif kind in ENGAGEMENT:
            c.engaged = True
        elif kind == "referral.made":
            c.referrals += 1
        if kind == "survey.answered" and f.get("survey_kind") == "nps" and f.get("score") is not None:
            c.best_nps = max(c.best_nps or 0, int(f["score"]))
        if kind != "contact_created" and (c.last_activity is None or at > c.last_activity):
            c.last_activity = at
    for c in out.values():
        c.purchases.sort()
    return out


@dataclass(frozen=True)
class DormancyPolicy:
    min_purchases: int = 3
    min_ratio: float = 1.5
    spread_factor: float = 3.0
    floor_days: float = 7.0


DEFAULT_POLICY = DormancyPolicy()


@dataclass(frozen=True)
class Rhythm:
    expected_gap_days: float
    spread_days: float
    threshold_days: float


@dataclass(frozen=True)
class Dormancy:
    last_purchase_at: datetime
    silent_days: float
    rhythm: Rhythm


def rhythm_of(purchase_times: list[datetime], policy: DormancyPolicy | None = None) -> Rhythm | None:
    policy = policy or DEFAULT_POLICY
    days = sorted({t.date() for t in purchase_times})
    if len(days) < policy.min_purchases:
        return None
    gaps = [float((b - a).days) for a, b in itertools.pairwise(days)]
    expected = statistics.median(gaps)
    spread = 1.4826 * statistics.median([abs(g - expected) for g in gaps])
    threshold = max(expected * policy.min_ratio, expected + policy.spread_factor * spread, policy.floor_days)
    return Rhythm(expected, spread, threshold)


def dormancy(c: Customer, now: datetime, policy: DormancyPolicy | None = None) -> Dormancy | None:
    """The customer's silence since their last purchase, when it is unusual for them; else None."""
    rhythm = rhythm_of([t for t, _ in c.purchases], policy)
    if rhythm is None:
        return None
    last = c.purchases[-1][0]
    silent = (now - last).total_seconds() / DAY
    return Dormancy(last, silent, rhythm) if silent > rhythm.threshold_days else None


def _quintiles(values: dict[str, float], higher_is_better: bool) -> dict[str, int]:
    """1-5 by rank; ties share the lower rank's score."""
    ordered = sorted(values.items(), key=lambda kv: kv[1] if higher_is_better else -kv[1])
    n = len(ordered)
    scores: dict[str, int] = {}
    first_rank: dict[float, int] = {}
    for rank, (key, value) in enumerate(ordered):
        r = first_rank.setdefault(value, rank)
        scores[key] = 1 + (5 * r) // n
    return scores


def rfm(customers: Iterable[Customer], now: datetime, window_days: int = 365) -> dict[str, str]:
    """Recency, frequency and monetary quintiles ("545") of every customer who bought in the window; recency is days
    since the last purchase (fewer is better), frequency and monetary count the window only."""
    start = now - timedelta(days=window_days)
    recency: dict[str, float] = {}
    frequency: dict[str, float] = {}
    monetary: dict[str, float] = {}
    for c in customers:
        recent = [(t, a) for t, a in c.purchases if start <= t <= now]
        if not recent:
            continue
        recency[c.contact_id] = (now - recent[-1][0]).total_seconds() / DAY
        frequency[c.contact_id] = float(len(recent))
        monetary[c.contact_id] = sum(a for _, a in recent)
    r, f, m = _quintiles(recency, False), _quintiles(frequency, True), _quintiles(monetary, True)
    return {k: f"{r[k]}{f[k]}{m[k]}" for k in recency}


def journey_stage(c: Customer) -> str:
    """awareness (known), consideration (engaged, no purchase), purchase (one), retention (repeat), advocacy
    (refers others, a promoter, or five purchases and more)."""
    bought = len(c.purchases)
    if c.referrals or (bought and (c.best_nps or 0) >= 9) or bought >= 5:
        return "advocacy"
    if bought >= 2:
        return "retention"
    if bought == 1:
        return "purchase"
    return "consideration" if c.engaged else "awareness"
