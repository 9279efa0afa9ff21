"""Predicted CLV: the history summary on a hand-made customer, no prediction without enough to learn from, and on a
planted population the fitted models rank customers the way their histories say (regular recent buyers above
one-off and long-silent ones, big spenders above small ones)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from cdp_analytics.domain.clv import histories, predict, predict_in_process
from cdp_analytics.domain.customers import Customer

NOW = datetime(2026, 11, 23, tzinfo=UTC)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def test_history_summary_by_hand() -> None:
    c = Customer("p", purchases=[(ago(300), 100.0), (ago(300.2), 50.0), (ago(200), 400.0), (ago(100), 200.0)])
    c.purchases.sort()
    (h,) = histories([c], NOW)
    # three distinct purchase days: two repeats; the first day (two orders) does not count as a repeat
    assert (h.frequency, round(h.recency), round(h.T), h.monetary_value) == (2, 200, 300, 300.0)
    assert histories([Customer("lead")], NOW) == []


def test_no_prediction_without_enough_repeat_buyers() -> None:
    few = [Customer(f"c{i}", purchases=[(ago(50 + i), 100.0)]) for i in range(40)]
    assert predict(histories(few, NOW)) == {}


def population() -> list[Customer]:
    rng = random.Random(7)
    people: list[Customer] = []
    for i in range(120):
        kind = ("regular", "one_off", "gone")[i % 3]
        first = rng.uniform(500, 700)
        if kind == "regular":  # buys every ~30 days until now
            times = [first - k * rng.uniform(25, 35) for k in range(int(first // 30))]
            times = [t for t in times if t > 1]
        elif kind == "one_off":
            times = [first]
        else:  # bought often, then stopped 400 days ago
            times = [first - k * 20 for k in range(int((first - 400) // 20))]
        value = 2_000_000.0 if i % 2 else 200_000.0
        people.append(Customer(f"{kind}-{i}", purchases=sorted((ago(t), value * rng.uniform(0.8, 1.2)) for t in times)))
    return people


@pytest.fixture(scope="module")
def predicted() -> dict[str, object]:  # one fit for the tests below (it takes seconds)
    return dict(predict(histories(population(), NOW)))


def test_regular_recent_buyers_are_worth_more_and_more_alive(predicted: dict[str, object]) -> None:
    def mean(kind: str, attr: str) -> float:
        values = [getattr(p, attr) for cid, p in predicted.items() if cid.startswith(kind)]
        return sum(values) / len(values)

    assert len(predicted) == 120
    assert mean("regular", "clv") > 5 * mean("one_off", "clv")  # BG/NBD holds a one-off buyer alive, buying rarely
    assert mean("regular", "clv") > 5 * mean("gone", "clv")
    assert mean("regular", "probability_alive") > 0.8 > 0.05 > mean("gone", "probability_alive")
    assert mean("regular", "expected_purchases") > 5  # about one a month over the next 12 months


def test_big_spenders_are_worth_more_than_small_ones_with_the_same_rhythm(predicted: dict[str, object]) -> None:
    regular = {int(cid.split("-")[1]): p.clv for cid, p in predicted.items() if cid.startswith("regular")}  # type: ignore[attr-defined]
    big = [v for i, v in regular.items() if i % 2]
    small = [v for i, v in regular.items() if not i % 2]
    assert min(big) > max(small)


def test_a_first_time_buyer_is_valued_at_the_observed_mean_repeat_order(predicted: dict[str, object]) -> None:
    rows = histories(population(), NOW)
    observed = sum(r.monetary_value * r.frequency for r in rows) / sum(r.frequency for r in rows)
    one_offs = [p for cid, p in predicted.items() if cid.startswith("one_off")]
    assert all(abs(p.expected_order_value - round(observed)) <= 1 for p in one_offs)  # type: ignore[attr-defined]


async def test_the_fit_runs_in_a_worker_process() -> None:
    rows = histories(population()[:60], NOW)
    out = await predict_in_process(rows)
    assert len(out) == 60 and all(p.clv >= 0 for p in out.values())
