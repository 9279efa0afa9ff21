"""The customer journey: when each person entered each stage, and the funnel between stages (how many reached it,
conversion to the next, median days in the stage, touchpoints while in it).

Stages and what enters them: awareness (first fact about the person), consideration (first engagement: a visit,
an email opened or clicked, a social interaction, a form, a qualification, a deal, a ticket, a call, a survey),
purchase (first paid order), retention (second paid order), advocacy (a referral, a promoter's NPS answer after a
purchase, or the fifth paid order). A person who skipped a stage (bought at the till with no prior contact) passes
through it at once: reaching a stage counts as reaching every stage before it."""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import datetime
from typing import Any

from cdp_analytics.domain.customers import DAY, ENGAGEMENT

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
    # reaching a stage is reaching the ones before it: a skipped stage is passed through at once
    for i in range(len(STAGES) - 2, -1, -1):
        later = entries.get(STAGES[i + 1])
        if later is not None and (STAGES[i] not in entries or entries[STAGES[i]] > later):
            entries[STAGES[i]] = later
    return entries


def funnel(by_subject: dict[str, list[dict[str, Any]]], now: datetime, top_touchpoints: int = 5) -> dict[str, Any]:
    reached: Counter[str] = Counter()
    days_in: dict[str, list[float]] = {s: [] for s in STAGES}
    touch: dict[str, Counter[str]] = {s: Counter() for s in STAGES}
    for facts in by_subject.values():
        entries = stage_entries(facts)
        if not entries:
            continue
        for i, stage in enumerate(STAGES):
            if stage not in entries:
                break
            reached[stage] += 1
            left = entries.get(STAGES[i + 1]) if i + 1 < len(STAGES) else None
            if left is not None:
                days_in[stage].append((left - entries[stage]).total_seconds() / DAY)
            end = left or now
            for f in facts:
                # a stage passed through at once has no touchpoint; the record of the contact's creation is none
                if entries[stage] <= f["at"] < end and f["kind"] != "contact_created":
                    touch[stage][f["kind"]] += 1
    out = []
    for i, stage in enumerate(STAGES):
        nxt = STAGES[i + 1] if i + 1 < len(STAGES) else None
        out.append(
            {
                "stage": stage,
                "reached": reached[stage],
                "conversion_to_next": round(reached[nxt] / reached[stage] * 100, 1) if nxt and reached[stage] else None,
                "median_days_in_stage": round(statistics.median(days_in[stage]), 1) if days_in[stage] else None,
                "touchpoints": dict(touch[stage].most_common(top_touchpoints)),
            }
        )
    return {
        "stages": out,
        "formula": "conversion = reached next stage / reached this stage x 100; days in stage = median time from "
        "entering it to entering the next, over those who moved on",
    }
