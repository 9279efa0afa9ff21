"""Each customer's relationship, read from their facts: buying rhythm and dormancy, RFM scores, journey stage.

Dormancy ("silent period") is judged against the customer's own rhythm, not one threshold for everybody: a weekly
coffee buyer silent for a month is unusual, a yearly gift buyer silent for two months is not. The rhythm is the
median gap between purchase days; the spread is the median absolute deviation of those gaps (scaled to a standard
deviation). Silence counts as unusual past `max(expected x min_ratio, expected + spread_factor x spread, floor)`.
A customer needs `min_purchases` purchases before a rhythm is claimed at all."""

from __future__ import annotations

import bisect
import itertools
import statistics
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_ms(at: datetime) -> int:
    """Milliseconds since 1970 (the precision the document store keeps)."""
    return (at - EPOCH) // timedelta(milliseconds=1)


# kinds that are facts with a property: a deal lost *to a competitor*, a paid order from a campaign, a survey answer
# scored on the CSAT or NPS scale. Segment rules may count them; a segment's KPIs read them (`domain.kpis`).
DERIVED_KINDS: dict[str, tuple[str, Callable[[dict[str, Any]], bool]]] = {
    "deal.lost_to_competitor": ("deal.lost", lambda f: bool(f.get("competitor"))),
    "order.paid_from_campaign": ("order.paid", lambda f: bool(f.get("campaign_id"))),
    "survey.csat": ("survey.answered", lambda f: f.get("survey_kind") == "csat" and f.get("score") is not None),
    "survey.nps": ("survey.answered", lambda f: f.get("survey_kind") == "nps" and f.get("score") is not None),
}
# kinds whose facts carry a figure a segment's KPIs add up: kept beside each time, in `values`
VALUED: dict[str, str] = {
    "order.refunded": "amount",
    "deal.won": "amount",
    "order.paid_from_campaign": "amount",
    "survey.csat": "score",
    "survey.nps": "score",
}
SUMMARY_VERSION = 2  # 2: derived kinds for the KPIs and `values`; summaries of version 1 are rebuilt from the facts


def _insert(times: array[int], values: array[float] | None, ms: int, value: float) -> None:
    """Keep `times` sorted, `values` beside them (ties ordered by value, so any arrival order gives the same)."""
    i = bisect.bisect_left(times, ms)
    if values is None:
        times.insert(i, ms)
        return
    while i < len(times) and times[i] == ms and values[i] < value:
        i += 1
    times.insert(i, ms)
    values.insert(i, value)


@dataclass(init=False)
class Customer:
    """What segments, journey stage, RFM and dormancy read of a person: kept up to date fact by fact (`add`), so
    ingestion never needs to read a person's facts again. Times are kept as epoch milliseconds in sorted arrays
    (paid orders with their amounts beside them), which segment rules search without building datetimes."""

    contact_id: str
    paid_ms: array[int]  # one per paid order, sorted (ties by amount)
    paid_amounts: array[float]  # the amount of each, in the same order
    last_activity: datetime | None
    engaged: bool
    referrals: int
    best_nps: int | None
    times: dict[str, array[int]]  # kind -> when, sorted (paid orders are in `paid_ms`): counted by segment rules
    values: dict[str, array[float]]  # for the kinds in VALUED: the amount or score of each, beside `times`

    def __init__(
        self,
        contact_id: str,
        purchases: Iterable[tuple[datetime, float]] = (),
        last_activity: datetime | None = None,
        engaged: bool = False,
        referrals: int = 0,
        best_nps: int | None = None,
        times: dict[str, array[int]] | None = None,
        values: dict[str, array[float]] | None = None,
    ) -> None:
        self.contact_id = contact_id
        self.paid_ms, self.paid_amounts = array("q"), array("d")
        for at, amount in purchases:
            self._paid(epoch_ms(at), float(amount))
        self.last_activity, self.engaged, self.referrals, self.best_nps = last_activity, engaged, referrals, best_nps
        self.times = times if times is not None else {}
        self.values = values if values is not None else {}

    @property
    def purchases(self) -> list[tuple[datetime, float]]:
        """(when, amount) of each paid order, oldest first."""
        return [(EPOCH + timedelta(milliseconds=t), a) for t, a in zip(self.paid_ms, self.paid_amounts, strict=True)]

    @property
    def purchase_count(self) -> int:
        return len(self.paid_ms)

    @property
    def last_purchase_at(self) -> datetime | None:
        return EPOCH + timedelta(milliseconds=self.paid_ms[-1]) if self.paid_ms else None

    def paid_since(self, since: datetime | None) -> tuple[int, float]:
        """Paid orders since `since` (or ever) and what they came to."""
        i = bisect.bisect_left(self.paid_ms, epoch_ms(since)) if since is not None else 0
        return len(self.paid_ms) - i, sum(self.paid_amounts[i:])

    def _paid(self, ms: int, amount: float) -> None:
        _insert(self.paid_ms, self.paid_amounts, ms, amount)

    def _at(self, kind: str, ms: int, f: dict[str, Any]) -> None:
        field = VALUED.get(kind)
        values = self.values.setdefault(kind, array("d")) if field else None
        _insert(self.times.setdefault(kind, array("q")), values, ms, float(f.get(field or "") or 0.0))

    def window(self, kind: str, start_ms: int, end_ms: int) -> tuple[Sequence[int], Sequence[float] | None, int, int]:
        """The times of `kind` (and their values, if kept) and the slice [i, j) of them in [start_ms, end_ms)."""
        if kind == "order.paid":
            paid = self.paid_ms
            return paid, self.paid_amounts, bisect.bisect_left(paid, start_ms), bisect.bisect_left(paid, end_ms)
        times = self.times.get(kind)
        if not times:
            return (), None, 0, 0
        return times, self.values.get(kind), bisect.bisect_left(times, start_ms), bisect.bisect_left(times, end_ms)

    def add(self, f: dict[str, Any]) -> None:
        """Fold one fact in (in any order: what depends on order is kept sorted)."""
        kind, at = f["kind"], f["at"]
        ms = epoch_ms(at)
        if kind == "order.paid":
            self._paid(ms, float(f.get("amount") or 0.0))
        else:
            self._at(kind, ms, f)
        for derived, (base, holds) in DERIVED_KINDS.items():
            if kind == base and holds(f):
                self._at(derived, ms, f)
        if kind in ENGAGEMENT:
            self.engaged = True
        elif kind == "referral.made":
            self.referrals += 1
        if kind == "survey.answered" and f.get("survey_kind") == "nps" and f.get("score") is not None:
            self.best_nps = max(self.best_nps or 0, int(f["score"]))
        if kind != "contact_created" and (self.last_activity is None or at > self.last_activity):
            self.last_activity = at

    def count_since(self, kind: str, since: datetime | None) -> int:
        """How often the person did `kind` (an event type, or a derived kind), since `since` or ever."""
        times = self.paid_ms if kind == "order.paid" else self.times.get(kind)
        if not times:
            return 0
        return len(times) - (bisect.bisect_left(times, epoch_ms(since)) if since is not None else 0)


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
        if f["kind"] == "marketing.spend_recorded":  # about a campaign, not a person
            continue
        subject = f["subject"]
        c = out.get(subject)
        if c is None:
            c = out[subject] = Customer(subject)
        c.add(f)
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
    bought = c.purchase_count
    if c.referrals or (bought and (c.best_nps or 0) >= 9) or bought >= 5:
        return "advocacy"
    if bought >= 2:
        return "retention"
    if bought == 1:
        return "purchase"
    return "consideration" if c.engaged else "awareness"
