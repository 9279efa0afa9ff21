"""Daily roll-ups against the facts they summarise: for random histories (late arrivals, repeated days, leap years,
periods longer than a year), the KPI inputs summed from the roll-ups equal the ones counted from the facts, and the
roll-ups folded one fact at a time, in any arrival order, equal the ones built at once."""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from cdp_analytics.domain.kpis import Period, Tally, tally, tally_of_days
from cdp_analytics.domain.rollups import CustomerState, add_to, roll_up

KINDS = [
    "order.paid",
    "order.paid",
    "order.refunded",
    "lead.form_submitted",
    "deal.won",
    "deal.lost",
    "survey.answered",
    "email.sent",
    "email.opened",
    "email.clicked",
    "marketing.spend_recorded",
    "contact_created",
    "web.visited",
]
ORIGIN = datetime(2023, 1, 1, tzinfo=UTC)


def history(rng: random.Random, people: int, events: int, days: int) -> list[dict[str, Any]]:
    out = []
    for n in range(events):
        kind = rng.choice(KINDS)
        subject = f"c{rng.randrange(people)}" if kind != "marketing.spend_recorded" else f"camp{rng.randrange(3)}"
        at = ORIGIN + timedelta(days=rng.randrange(days), seconds=rng.randrange(86_400))
        fact: dict[str, Any] = {"_id": f"e{n}", "kind": kind, "subject": subject, "at": at}
        if kind in ("order.paid", "order.refunded", "deal.won", "marketing.spend_recorded"):
            fact["amount"] = float(rng.choice([150_000, 450_000, 1_200_000]))
        if kind == "order.paid" and rng.random() < 0.3:
            fact["campaign_id"] = "tet"
        if kind == "marketing.spend_recorded":
            fact["spend_kind"] = rng.choice(["marketing", "sales"])
        if kind == "survey.answered":
            fact["survey_kind"], fact["score"] = rng.choice([("csat", rng.randint(1, 5)), ("nps", rng.randint(0, 10))])
        if kind.startswith("email."):
            fact["message_id"] = f"{subject}-m{rng.randrange(4)}"  # an email goes to one person
        out.append(fact)
    return out


def periods(rng: random.Random, days: int) -> list[Period]:
    out = [Period(datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC))]  # a leap year: 366 days
    for _ in range(12):
        start = ORIGIN.date() + timedelta(days=rng.randrange(days))
        length = rng.choice([1, 7, 31, 92, 365, 500, 900])
        out.append(Period(*(datetime.combine(d, datetime.min.time(), UTC) for d in (start, start + timedelta(length)))))
    return out


def same(a: Tally, b: Tally) -> bool:
    return all(math.isclose(x, y, abs_tol=1e-6) for x, y in zip(asdict(a).values(), asdict(b).values(), strict=True))


@pytest.mark.parametrize("seed", range(8))
def test_inputs_from_roll_ups_equal_inputs_from_facts(seed: int) -> None:
    rng = random.Random(seed)
    span = 1_200
    facts = history(rng, people=rng.choice([3, 20, 60]), events=rng.choice([50, 400, 1_500]), days=span)
    days = sorted(roll_up(facts).values(), key=lambda d: d["_id"])
    for p in periods(rng, span):
        known = [f for f in facts if f["at"] < p.end]
        upto = [d for d in days if d["_id"] < p.end.date().isoformat()]
        expected, found = tally(known, p), tally_of_days(upto, p)
        assert same(expected, found), (p, asdict(expected), asdict(found))


def test_folding_in_any_order_gives_the_same_roll_ups() -> None:
    rng = random.Random(7)
    facts = history(rng, people=5, events=600, days=900)
    reference = roll_up(facts)
    for _ in range(3):
        rng.shuffle(facts)
        states: dict[str, CustomerState] = {}
        days: dict[str, dict[str, Any]] = {}
        for f in facts:
            for (day, path), value in states.setdefault(f["subject"], CustomerState()).apply(f).items():
                add_to(days.setdefault(day, {"_id": day}), path, value)
        assert strip(days) == strip(reference)


def test_a_state_rebuilt_from_facts_continues_like_the_folded_one() -> None:
    rng = random.Random(3)
    facts = [f for f in history(rng, people=1, events=300, days=800) if f["subject"] == "c0"]
    head, tail = facts[:150], facts[150:]
    folded = CustomerState()
    for f in head:
        folded.apply(f)
    rebuilt = CustomerState.of(head)
    for f in tail:
        assert folded.apply(f) == rebuilt.apply(f)


def test_a_late_first_order_moves_the_first_paid_day_and_the_covered_stretch() -> None:
    state = CustomerState()
    state.apply({"kind": "order.paid", "at": datetime(2026, 3, 1, tzinfo=UTC), "amount": 1.0})
    late = state.apply({"kind": "order.paid", "at": datetime(2025, 1, 10, tzinfo=UTC), "amount": 2.0})
    assert late[("2026-03-01", "first_paid")] == -1 and late[("2025-01-10", "first_paid")] == 1
    assert late[("2025-01-10", "cov_start")] == 1 and late[("2025-01-10", "paid_revenue")] == 2.0
    assert date(2026, 1, 10).isoformat() == "2026-01-10"  # the 2025 stretch ends 365 days later...
    assert late[("2026-01-10", "cov_end")] == 1  # ...before the 2026 order starts a new one


def strip(days: dict[str, dict[str, Any]]) -> dict[str, Counter[str]]:
    """Day documents without the zero entries a fold may leave behind."""
    out: dict[str, Counter[str]] = {}
    for day, doc in days.items():
        flat: Counter[str] = Counter()
        for k, v in doc.items():
            if k == "_id":
                continue
            for kk, vv in v.items() if isinstance(v, dict) else [("", v)]:
                if vv:
                    flat[f"{k}.{kk}"] += round(vv, 6)
        if flat:
            out[day] = flat
    return out
