"""Segment rules on hand-made customers: the issue's example rule, time windows, derived kinds, bad rules refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cdp_analytics.domain.customers import customers_from
from cdp_analytics.domain.segments import BUILT_IN, Rules, matches
from pydantic import ValidationError

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
BIG_AND_READING = Rules.model_validate(
    {
        "all": [
            {"metric": "revenue", "within_days": 90, "op": "gt", "value": 10_000_000},
            {"metric": "count", "kind": "email.opened", "within_days": 30, "op": "gte", "value": 1},
        ]
    }
)


def fact(kind: str, days_ago: float, **values: Any) -> dict[str, Any]:
    return {"kind": kind, "subject": "p", "at": NOW - timedelta(days=days_ago), **values}


def check(rules: Rules, facts: list[dict[str, Any]], scores: dict[str, Any] | None = None) -> bool:
    customer = customers_from(facts)["p"]
    return matches(rules, customer, scores or {}, NOW)


class TestRules:
    def test_spent_over_ten_million_in_90_days_and_opened_an_email_in_30(self) -> None:
        spent = [fact("order.paid", 10, amount=6_000_000.0), fact("order.paid", 80, amount=5_000_000.0)]
        assert check(BIG_AND_READING, [*spent, fact("email.opened", 3)])
        assert not check(BIG_AND_READING, [*spent, fact("email.opened", 45)])  # opened, but too long ago
        old = [fact("order.paid", 10, amount=6_000_000.0), fact("order.paid", 120, amount=5_000_000.0)]
        assert not check(BIG_AND_READING, [*old, fact("email.opened", 3)])  # the window left a purchase behind

    def test_lost_to_a_competitor_counts_only_deals_lost_to_one(self) -> None:
        _, lost = BUILT_IN["lost-to-competitor"]
        assert check(lost, [fact("deal.lost", 20, competitor="Shop B")])
        assert not check(lost, [fact("deal.lost", 20, competitor=None)])

    def test_scores_and_stages(self) -> None:
        _, top = BUILT_IN["top-spenders"]
        buys = [fact("order.paid", 5, amount=1.0)]
        assert check(top, buys, {"rfm": "455"}) and not check(top, buys, {"rfm": "454"})
        assert not check(top, buys, {})  # not scored yet: not a member
        stage = Rules.model_validate({"all": [{"metric": "journey_stage", "op": "in", "value": ["purchase"]}]})
        assert check(stage, buys)

    def test_bad_rules_are_refused(self) -> None:
        with pytest.raises(ValidationError, match="needs `kind`"):
            Rules.model_validate({"all": [{"metric": "count", "op": "gte", "value": 1}]})
        with pytest.raises(ValidationError):
            Rules.model_validate({"all": [{"metric": "shoe_size", "op": "gt", "value": 40}]})
        with pytest.raises(ValidationError):
            Rules.model_validate({"all": []})
