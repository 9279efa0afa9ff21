"""KPI formulas on hand-made facts: each figure equals the textbook formula on inputs counted by hand."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cdp_analytics.domain.customers import customers_from
from cdp_analytics.domain.kpis import Member, Period, compute, for_members, of_days, tally, tally_of_members
from cdp_analytics.domain.rollups import CustomerState, roll_up

Q1 = Period(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))


def f(kind: str, subject: str, month: int, day: int = 5, year: int = 2026, **v: Any) -> dict[str, Any]:
    return {"kind": kind, "subject": subject, "at": datetime(year, month, day, tzinfo=UTC), **v}


FACTS = [
    # customers before the period: a (still buying), b (last order 2024: lost), c (bought within the year)
    f("order.paid", "a", 6, year=2025, amount=100),
    f("order.paid", "b", 1, year=2024, amount=100),
    f("order.paid", "c", 5, year=2025, amount=100),
    # in the period
    f("order.paid", "a", 2, amount=300, campaign_id="tet"),
    f("order.paid", "d", 2, amount=500),  # new customer
    f("order.refunded", "d", 3, amount=100),
    f("lead.form_submitted", "d", 1, day=2),
    f("lead.form_submitted", "e", 1),
    f("deal.won", "d", 1, day=12, amount=500),
    f("deal.lost", "e", 2, amount=0),
    f("survey.answered", "a", 2, survey_kind="csat", score=5),
    f("survey.answered", "d", 2, survey_kind="csat", score=2),
    f("survey.answered", "a", 3, survey_kind="nps", score=10),
    f("survey.answered", "c", 3, survey_kind="nps", score=9),
    f("survey.answered", "d", 3, survey_kind="nps", score=8),
    f("survey.answered", "e", 3, survey_kind="nps", score=3),
    f("email.sent", "a", 1, message_id="m1"),
    f("email.sent", "c", 1, message_id="m2"),
    f("email.opened", "a", 1, message_id="m1"),
    f("email.opened", "a", 1, day=6, message_id="m1"),
    f("email.clicked", "a", 1, message_id="m1"),
    f("marketing.spend_recorded", "tet", 1, amount=200, spend_kind="marketing"),
    f("marketing.spend_recorded", "tet", 1, amount=100, spend_kind="sales"),
]


def test_textbook_formulas() -> None:
    k = compute(FACTS, Q1)
    assert (k["customers_at_start"], k["new_customers"], k["lost_customers"]) == (3, 1, 1)
    assert k["retention_rate"]["value"] == 100.0  # (4 - 1) / 3
    assert k["churn_rate"]["value"] == 33.33  # b is lost
    assert k["csat"]["value"] == 50.0
    assert k["nps"]["value"] == 25.0  # 2 promoters, 1 passive, 1 detractor of 4
    assert k["customer_acquisition_cost"]["value"] == 300.0
    assert k["cost_per_lead"]["value"] == 100.0
    assert k["conversion_rate"]["value"] == 50.0 and k["win_rate"]["value"] == 50.0
    assert k["sales_cycle_days"]["value"] == 10.0
    assert k["average_order_value"]["value"] == 350.0  # (300 + 500 - 100) / 2
    assert k["email_open_rate"]["value"] == 50.0 and k["email_click_through_rate"]["value"] == 50.0
    assert k["marketing_roi"]["value"] == 50.0  # (300 - 200) / 200
    assert "formula" in k["customer_lifetime_value"] and k["customer_lifetime_value"]["value"] is not None


def test_the_daily_roll_ups_give_the_same_textbook_figures() -> None:
    days = list(roll_up(FACTS).values())
    assert of_days(days, Q1) == compute(FACTS, Q1)
    assert of_days(days, Q1.previous()) == compute([x for x in FACTS if x["at"] < Q1.start], Q1.previous())


def test_empty_period_has_no_figures_rather_than_zero_divisions() -> None:
    k = compute([], Q1)
    assert k["csat"]["value"] is None and k["churn_rate"]["value"] is None


def test_previous_period_has_the_same_length() -> None:
    prev = Q1.previous()
    assert prev.end == Q1.start and prev.end - prev.start == Q1.end - Q1.start == timedelta(days=90)


def members_of(facts: list[dict[str, Any]], subjects: set[str]) -> list[Member]:
    own = [x for x in facts if x["subject"] in subjects]
    customers = customers_from(own)
    return [
        Member(c, CustomerState.of([x for x in own if x["subject"] == s]).email_days()) for s, c in customers.items()
    ]


def test_kpis_of_a_segment_count_only_its_members_and_leave_spend_out() -> None:
    k = for_members(members_of(FACTS, {"a", "d"}), 2, Q1)
    # a was a customer before the period and bought again, d is new: retention (2 - 1) / 1
    assert (k["customers_at_start"], k["new_customers"], k["segment_members"]) == (1, 1, 2)
    assert k["retention_rate"]["value"] == 100.0
    assert k["average_order_value"]["inputs"] == {"revenue": 700, "orders": 2}  # 300 + 500 - 100 refunded
    # CSAT of a (5) and d (2): one positive of two; NPS of a (10) and d (8): one promoter, no detractor
    assert k["csat"]["value"] == 50.0 and k["nps"]["value"] == 50.0
    assert k["marketing_roi"]["inputs"] == {}  # not per segment; the campaign revenue is still counted below
    assert all(k[name]["value"] is None for name in ("customer_acquisition_cost", "cost_per_lead", "marketing_roi"))
    assert "per segment" in k["customer_lifetime_value"]["formula"]
    # d's lead (Jan 2) to the won deal (Jan 12): a 10-day cycle; a opened and clicked m1
    assert k["sales_cycle_days"]["value"] == 10.0 and k["average_deal_value"]["value"] == 500
    assert k["email_open_rate"]["inputs"] == {"opened": 1, "sent": 1}


KINDS = [
    ("order.paid", {"amount": 100}),
    ("order.paid", {"amount": 250, "campaign_id": "c1"}),
    ("order.refunded", {"amount": 40}),
    ("lead.form_submitted", {}),
    ("deal.won", {"amount": 900}),
    ("deal.lost", {"competitor": "x"}),
    ("survey.answered", {"survey_kind": "csat"}),
    ("survey.answered", {"survey_kind": "nps"}),
    ("email.sent", {}),
    ("email.opened", {}),
    ("email.clicked", {}),
    ("web.visited", {}),
]


@pytest.mark.parametrize("seed", range(25))
def test_a_segments_tally_from_summaries_equals_the_tally_of_its_facts(seed: int) -> None:
    """Random histories over three years: the members' summaries (built from every fact, even those after the
    period) give the same inputs as their facts before the period's end, for periods short and long."""
    rng = random.Random(seed)
    origin = datetime(2024, 1, 1, tzinfo=UTC)
    facts = []
    for n in range(400):
        kind, values = rng.choice(KINDS)
        at = origin + timedelta(days=rng.randrange(3 * 365), seconds=rng.randrange(86400))
        extra: dict[str, Any] = dict(values)
        if kind == "survey.answered":
            extra["score"] = rng.randrange(11) if extra["survey_kind"] == "nps" else rng.randrange(1, 6)
        subject = f"p{rng.randrange(12)}"
        if kind.startswith("email."):  # a message goes to one person
            extra["message_id"] = f"{subject}-m{rng.randrange(4)}"
        facts.append({"_id": f"e{n}", "kind": kind, "subject": subject, "at": at, **extra})
    subjects = {f"p{i}" for i in range(12) if rng.random() < 0.7}
    members = members_of(facts, subjects)
    for _ in range(6):
        start = origin + timedelta(days=rng.randrange(3 * 365))
        p = Period(start, start + timedelta(days=rng.choice([1, 30, 91, 365, 500])))
        expected = tally([x for x in facts if x["subject"] in subjects and x["at"] < p.end], p)
        got = tally_of_members(members, p)
        assert vars(got) == pytest.approx(vars(expected)), p
