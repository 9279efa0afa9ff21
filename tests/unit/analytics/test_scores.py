"""Churn and lead models: features on a hand-made history, no model without enough history, and a model that
learns a planted pattern and names the feature that drove a score."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from cdp_analytics.domain.scores import features, fit, train

NOW = datetime(2026, 11, 23, tzinfo=UTC)


def fact(subject: str, kind: str, days_ago: float, **values: Any) -> dict[str, Any]:
    return {"kind": kind, "subject": subject, "at": NOW - timedelta(days=days_ago), **values}


def test_features_on_a_hand_made_history() -> None:
    facts = [
        fact("p", "contact_created", 400),
        fact("p", "order.paid", 300, amount=500_000.0),
        fact("p", "order.paid", 20, amount=1_000_000.0),
        fact("p", "web.visited", 10),
        fact("p", "web.visited", 60),
        fact("p", "survey.answered", 15, survey_kind="nps", score=9),
        fact("p", "web.visited", -1),  # after `at`: not seen
    ]
    f = features(facts, NOW)
    assert round(f["days_since_last_purchase"]) == 20 and f["purchases_365d"] == 2
    assert math.isclose(f["revenue_365d_log"], math.log1p(1_500_000))
    assert (f["web_visits_30d"], f["web_visits_90d"], f["best_nps"], round(f["tenure_days"])) == (1, 2, 9, 400)


def test_no_model_without_enough_history() -> None:
    assert fit("churn", [features([fact("p", "order.paid", 5)], NOW)] * 10, [0, 1] * 5) is None
    assert train({}, NOW) == (None, None)


def test_a_planted_pattern_is_learnt_and_explained() -> None:
    # customers who kept buying in the last horizon stayed; those whose last purchase is old churned
    people: dict[str, list[dict[str, Any]]] = {}
    for i in range(60):
        stays = i % 2 == 0
        pid = f"c{i}"
        last = 200 + (i % 7) if stays else 300 + (i % 11) * 10
        people[pid] = [fact(pid, "order.paid", last + 60), fact(pid, "order.paid", last)]
        if stays:
            people[pid].append(fact(pid, "order.paid", 30))
    churn, lead = train(people, NOW, horizon_days=180)
    assert churn is not None and lead is None and churn.trained_on == 60 and churn.positives == 30
    stale = features([fact("x", "order.paid", 400), fact("x", "order.paid", 380)], NOW - timedelta(days=180))
    fresh = features([fact("y", "order.paid", 220), fact("y", "order.paid", 200)], NOW - timedelta(days=180))
    risk_stale, drivers = churn.score(stale)
    risk_fresh, _ = churn.score(fresh)
    assert risk_stale > 0.5 > risk_fresh
    assert drivers[0]["feature"] == "days_since_last_purchase"
