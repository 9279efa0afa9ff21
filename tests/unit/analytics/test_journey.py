"""The journey on a hand-made cohort: stage entries, skipped stages passed through, the funnel's figures."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cdp_analytics.domain.customers import customers_from
from cdp_analytics.domain.journey import Funnel, funnel, stage_entries

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def f(subject: str, kind: str, day: int, **values: Any) -> dict[str, Any]:
    return {"kind": kind, "subject": subject, "at": T0 + timedelta(days=day), **values}


COHORT = {
    # aware day 0, visits day 4, buys day 10 and 40, promoter day 41
    "a": [
        f("a", "contact_created", 0),
        f("a", "web.visited", 4),
        f("a", "order.paid", 10),
        f("a", "order.paid", 40),
        f("a", "survey.answered", 41, survey_kind="nps", score=10),
    ],
    # aware day 0, opens an email day 2, never buys
    "b": [f("b", "contact_created", 0), f("b", "email.opened", 2)],
    # bought at the till on day 6 with no contact before: passes through consideration at once
    "c": [f("c", "contact_created", 6), f("c", "order.paid", 6)],
    # known, nothing else
    "d": [f("d", "contact_created", 3)],
}


def test_stage_entries_and_skipped_stages() -> None:
    a = stage_entries(COHORT["a"])
    assert [(s, (t - T0).days) for s, t in a.items()] == [
        ("awareness", 0),
        ("consideration", 4),
        ("purchase", 10),
        ("retention", 40),
        ("advocacy", 41),
    ]
    c = stage_entries(COHORT["c"])
    assert c["consideration"] == c["purchase"] == T0 + timedelta(days=6) and "retention" not in c


def test_funnel_figures() -> None:
    stages = {s["stage"]: s for s in funnel(COHORT, NOW)["stages"]}
    assert [stages[s]["reached"] for s in stages] == [4, 3, 2, 1, 1]
    assert stages["awareness"]["conversion_to_next"] == 75.0
    assert stages["consideration"]["conversion_to_next"] == round(2 / 3 * 100, 1)
    assert stages["purchase"]["conversion_to_next"] == 50.0 and stages["advocacy"]["conversion_to_next"] is None
    assert stages["awareness"]["median_days_in_stage"] == 2  # a: 4, b: 2, c: 0
    assert stages["consideration"]["median_days_in_stage"] == 3  # a: 6, c: 0
    assert stages["purchase"]["median_days_in_stage"] == 30
    assert stages["consideration"]["touchpoints"] == {"web.visited": 1, "email.opened": 1}
    assert stages["purchase"]["touchpoints"] == {"order.paid": 2}  # a's first order, and c's (until now)


KINDS = [
    ("contact_created", {}),
    ("web.visited", {}),
    ("email.opened", {}),
    ("email.sent", {}),
    ("order.paid", {"amount": 100.0}),
    ("order.paid", {"amount": 100.0, "campaign_id": "c"}),
    ("referral.made", {}),
    ("survey.answered", {"survey_kind": "nps"}),
    ("survey.answered", {"survey_kind": "csat"}),
    ("ticket.opened", {}),
]


@pytest.mark.parametrize("seed", range(20))
def test_the_funnel_from_summaries_equals_the_funnel_from_facts(seed: int) -> None:
    """Random people, some of whose facts lie after `now` (left out by both)."""
    rng = random.Random(seed)
    people: dict[str, list[dict[str, Any]]] = {}
    for n in range(300):
        kind, values = rng.choice(KINDS)
        subject = f"p{rng.randrange(25)}"
        extra = dict(values)
        if kind == "survey.answered":
            extra["score"] = rng.randrange(11) if extra["survey_kind"] == "nps" else rng.randrange(1, 6)
        at = T0 + timedelta(days=rng.randrange(400), seconds=rng.randrange(86400))
        people.setdefault(subject, []).append({"_id": f"e{n}", "kind": kind, "subject": subject, "at": at, **extra})
    known = {s: sorted((f for f in fs if f["at"] < NOW), key=lambda f: f["at"]) for s, fs in people.items()}
    from_facts = funnel({s: fs for s, fs in known.items() if fs}, NOW, top_touchpoints=20)
    summaries = Funnel(NOW, top_touchpoints=20)
    for c in customers_from(f for fs in people.values() for f in fs).values():
        summaries.add_customer(c)
    assert summaries.result() == from_facts
    assert summaries.people == sum(1 for fs in known.values() if fs)
