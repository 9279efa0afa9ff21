"""The customer journey: when each person entered each stage, and the funnel between stages (how many reached it,
conversion to the next, median days in the stage, touchpoints while in it).

Stages and what enters them: awareness (first fact about the person), consideration (first engagement: a visit,
an email opened or clicked, a social interaction, a form, a qualification, a deal, a ticket, a call, a survey),
purchase (first paid order), retention (second paid order), advocacy (a referral, a promoter's NPS answer after a
purchase, or the fifth paid order). A person who skipped a stage (bought at the till with no prior contact) passes
through it at once: reaching a stage counts as reaching every stage before it."""

from __future__ import annotations

import bisect
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

from cdp_analytics.domain.customers import DAY, DERIVED_KINDS, ENGAGEMENT, Customer, epoch_ms

STAGES = ("awareness", "consideration", "purchase", "retention", "advocacy")


def stage_entries(facts: list[dict[str, Any]]) -> dict[str, datetime]:
    ordered = sorted((f for f in facts if f["kind"] != "marketing.spend_recorded"), key=lambda f: f["at"])
    if not ordered:
        return {}
    entries: dict[str, datetime] = {"awareness": ordered[0]["at"]}
    purchases = 0
    for f in ordered:
        kind, at = f["kind"], f["at"]
        if kind in ENGAGEMENT:
            entries.setdefault("consideration", at)
        if kind == "order.paid":
            purchases += 1
            entries.setdefault("purchase", at)
            if purchases == 2:
                entries.setdefault("retention", at)
            if purchases == 5:
                entries.setdefault("advocacy", at)
        promoter = kind == "survey.answered" and f.get("survey_kind") == "nps" and (f.get("score") or 0) >= 9
        if kind == "referral.made" or (promoter and purchases):
            entries.setdefault("advocacy", at)
    return _passed_through(entries)


def _passed_through(entries: dict[str, Any]) -> dict[str, Any]:
    """Reaching a stage is reaching the ones before it: a skipped stage is passed through at once."""
    for i in range(len(STAGES) - 2, -1, -1):
        later = entries.get(STAGES[i + 1])
        if later is not None and (STAGES[i] not in entries or entries[STAGES[i]] > later):
            entries[STAGES[i]] = later
    return {s: entries[s] for s in STAGES if s in entries}


def _kinds(c: Customer) -> list[tuple[str, Any]]:
    """Each event type the person did with its sorted times (derived kinds left out: they repeat their base's)."""
    return [("order.paid", c.paid_ms)] + [(k, t) for k, t in c.times.items() if k not in DERIVED_KINDS]


def stage_entries_ms(c: Customer, now_ms: int) -> dict[str, int]:
    """`stage_entries` from the person's summary, as epoch ms, counting what happened before `now_ms` only."""
    kinds = _kinds(c)
    firsts = [(t[0], k) for k, t in kinds if t and t[0] < now_ms]
    if not firsts:
        return {}
    entries: dict[str, int] = {"awareness": min(firsts)[0]}
    engaged = [t for t, k in firsts if k in ENGAGEMENT]
    if engaged:
        entries["consideration"] = min(engaged)
    paid = [t for t in c.paid_ms[:5] if t < now_ms]
    advocacy = [paid[4]] if len(paid) == 5 else []
    if paid:
        entries["purchase"] = paid[0]
        nps, scores = c.times.get("survey.nps", ()), c.values.get("survey.nps", ())
        advocacy += [t for t, v in zip(nps, scores, strict=True) if paid[0] <= t < now_ms and v >= 9][:1]
    if len(paid) >= 2:
        entries["retention"] = paid[1]
    advocacy += [t for t in (c.times.get("referral.made") or [])[:1] if t < now_ms]
    if advocacy:
        entries["advocacy"] = min(advocacy)
    return _passed_through(entries)


class Funnel:
    """The funnel, one person at a time (`add`), so no one needs everybody's facts in memory at once. With a
    `cohort` [start, end), only the people first seen in it count."""

    def __init__(
        self, now: datetime, top_touchpoints: int = 5, cohort: tuple[datetime, datetime] | None = None
    ) -> None:
        self.now, self.top, self.cohort = now, top_touchpoints, cohort
        self.now_ms = epoch_ms(now)
        self.cohort_ms = (epoch_ms(cohort[0]), epoch_ms(cohort[1])) if cohort else None
        self.people = 0
        self.reached: Counter[str] = Counter()
        self.days_in: dict[str, list[float]] = {s: [] for s in STAGES}
        self.touch: dict[str, Counter[str]] = {s: Counter() for s in STAGES}

    def add(self, facts: list[dict[str, Any]]) -> None:
        """One person's facts."""

        def touches(start: datetime, end: datetime) -> Iterator[tuple[str, int]]:
            # a stage passed through at once has no touchpoint; the record of the contact's creation is none
            return ((f["kind"], 1) for f in facts if start <= f["at"] < end and f["kind"] != "contact_created")

        self._count(stage_entries(facts), self.now, self.cohort, lambda a, b: (b - a).total_seconds() / DAY, touches)

    def add_customer(self, c: Customer) -> None:
        """One person from their summary (the same as `add` on their facts before `now`)."""
        kinds = [(k, t) for k, t in _kinds(c) if k != "contact_created" and t]

        def touches(start: int, end: int) -> Iterator[tuple[str, int]]:
            return ((k, bisect.bisect_left(t, end) - bisect.bisect_left(t, start)) for k, t in kinds)

        entries = stage_entries_ms(c, self.now_ms)
        self._count(entries, self.now_ms, self.cohort_ms, lambda a, b: (b - a) / 1000 / DAY, touches)

    def _count(
        self,
        entries: dict[str, Any],
        now: Any,
        cohort: tuple[Any, Any] | None,
        days: Callable[[Any, Any], float],
        touches: Callable[[Any, Any], Iterable[tuple[str, int]]],
    ) -> None:
        """One person's stage entries (datetimes or epoch ms, `now` and `cohort` alike), with how to tell the days
        between two of them and the touchpoints between two times."""
        if not entries or (cohort is not None and not cohort[0] <= entries["awareness"] < cohort[1]):
            return
        self.people += 1
        for i, stage in enumerate(STAGES):
            if stage not in entries:
                break
            self.reached[stage] += 1
            left = entries.get(STAGES[i + 1]) if i + 1 < len(STAGES) else None
            if left is not None:
                self.days_in[stage].append(days(entries[stage], left))
            for kind, n in touches(entries[stage], now if left is None else left):
                if n > 0:
                    self.touch[stage][kind] += n

    def result(self) -> dict[str, Any]:
        reached, days_in = self.reached, self.days_in
        out = []
        for i, stage in enumerate(STAGES):
            nxt = STAGES[i + 1] if i + 1 < len(STAGES) else None
            out.append(
                {
                    "stage": stage,
                    "reached": reached[stage],
                    "conversion_to_next": round(reached[nxt] / reached[stage] * 100, 1)
                    if nxt and reached[stage]
                    else None,
                    "median_days_in_stage": round(statistics.median(days_in[stage]), 1) if days_in[stage] else None,
                    "touchpoints": dict(sorted(self.touch[stage].items(), key=lambda kn: (-kn[1], kn[0]))[: self.top]),
                }
            )
        return {
            "stages": out,
            "formula": "conversion = reached next stage / reached this stage x 100; days in stage = median time from "
            "entering it to entering the next, over those who moved on",
        }


def funnel(by_subject: dict[str, list[dict[str, Any]]], now: datetime, top_touchpoints: int = 5) -> dict[str, Any]:
    f = Funnel(now, top_touchpoints)
    for facts in by_subject.values():
        f.add(facts)
    return f.result()
