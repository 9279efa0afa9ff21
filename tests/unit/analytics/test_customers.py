"""Relationship figures on small hand-computed data: each customer's own buying rhythm decides dormancy, RFM
quintiles by rank, journey stages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cdp_analytics.domain.customers import Customer, customers_from, dormancy, journey_stage, rfm, rhythm_of

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def days_ago(n: float) -> datetime:
    return NOW - timedelta(days=n)


def buyer(cid: str, *ago: float, amount: float = 100_000) -> Customer:
    return Customer(cid, purchases=sorted((days_ago(d), amount) for d in ago))


class TestDormancy:
    def test_each_customer_is_judged_against_their_own_rhythm(self) -> None:
        weekly = buyer("coffee", 30, 37, 44, 51, 58)  # bought every 7 days, silent for 30
        yearly = buyer("gifts", 60, 425, 790)  # bought every 365 days, silent for 60
        assert rhythm_of([t for t, _ in weekly.purchases]).expected_gap_days == 7  # type: ignore[union-attr]
        silent = dormancy(weekly, NOW)
        assert silent is not None and round(silent.silent_days) == 30 and silent.rhythm.threshold_days == 10.5
        assert dormancy(yearly, NOW) is None  # 60 days is nothing for a yearly buyer
        assert dormancy(buyer("yearly-late", 600, 965, 1330), NOW) is not None  # 600 > 1.5 x 365

    def test_an_irregular_rhythm_widens_the_tolerance(self) -> None:
        # gaps 10, 30, 10, 30 days: median 20, spread 1.4826 x 10 = 14.8; unusual after 20 + 3 x 14.8 = 64.5 days
        irregular = buyer("irregular", 50, 60, 90, 100, 130)
        r = rhythm_of([t for t, _ in irregular.purchases])
        assert r is not None and r.expected_gap_days == 20 and round(r.threshold_days, 1) == 64.5
        assert dormancy(irregular, NOW) is None
        assert dormancy(buyer("irregular-late", 70, 80, 110, 120, 150), NOW) is not None  # silent 70 > 64.5

    def test_no_rhythm_is_claimed_from_two_purchases(self) -> None:
        assert dormancy(buyer("two", 400, 407), NOW) is None
        assert dormancy(buyer("same-day", 100, 100.1, 100.2), NOW) is None  # one purchase day only


class TestRfm:
    def test_quintiles_by_rank(self) -> None:
        customers = [buyer(f"c{i}", *[10 * (i + 1)] * (i + 1), amount=100.0 * (i + 1)) for i in range(5)]
        # c0: 1 purchase 10 days ago, 100; ... c4: 5 purchases 50 days ago, 2,500 in total
        scores = rfm(customers, NOW)
        assert scores == {"c0": "511", "c1": "422", "c2": "333", "c3": "244", "c4": "155"}

    def test_only_the_window_counts(self) -> None:
        assert rfm([buyer("old", 400), buyer("new", 5)], NOW) == {"new": "111"}


class TestJourney:
    def test_stages(self) -> None:
        assert journey_stage(Customer("a")) == "awareness"
        assert journey_stage(Customer("b", engaged=True)) == "consideration"
        assert journey_stage(buyer("c", 5)) == "purchase"
        assert journey_stage(buyer("d", 5, 50)) == "retention"
        assert journey_stage(Customer("e", purchases=[(days_ago(5), 1.0)], best_nps=9)) == "advocacy"
        assert journey_stage(Customer("f", referrals=1)) == "advocacy"


def test_customers_are_built_from_facts() -> None:
    facts: list[dict[str, Any]] = [
        {"kind": "contact_created", "subject": "p", "at": days_ago(100)},
        {"kind": "order.paid", "subject": "p", "at": days_ago(30), "amount": 250_000.0},
        {"kind": "web.visited", "subject": "p", "at": days_ago(2)},
        {"kind": "survey.answered", "subject": "p", "at": days_ago(20), "survey_kind": "nps", "score": 10},
        {"kind": "marketing.spend_recorded", "subject": "tet-2026", "at": days_ago(40), "amount": 9.0},
    ]
    built = customers_from(facts)
    assert set(built) == {"p"}
    p = built["p"]
    assert p.purchases == [(days_ago(30), 250_000.0)] and p.engaged and p.best_nps == 10
    assert p.last_activity == days_ago(2)
    assert journey_stage(p) == "advocacy"


def test_calendar_periods() -> None:
    from datetime import date

    from cdp_analytics.entrypoints.http import calendar_period

    def bounds(granularity: str, at: date) -> tuple[date, date, date]:
        period, before = calendar_period(granularity, at)
        return period.start.date(), period.end.date(), before.start.date()

    assert bounds("month", date(2026, 3, 31)) == (date(2026, 3, 1), date(2026, 4, 1), date(2026, 2, 1))
    assert bounds("quarter", date(2026, 11, 23)) == (date(2026, 10, 1), date(2027, 1, 1), date(2026, 7, 1))
    assert bounds("year", date(2026, 1, 1)) == (date(2026, 1, 1), date(2027, 1, 1), date(2025, 1, 1))
