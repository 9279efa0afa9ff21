"""Replenishment on hand-made histories: the customer's own rhythm when they bought twice, the catalogue's duration
otherwise, lines of one day counted as one purchase, the reminder due from `remind_days_before` the run-out day and
no longer once the run-out is long past."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cdp_analytics.domain.replenishment import Consumable, due, purchases_of, run_outs

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
RICE = Consumable("rice-st25-5kg", "Gạo ST25 túi 5 kg", days_per_unit=20, remind_days_before=5)
CATALOGUE = {RICE.sku: RICE}


def paid(days_ago: float, *lines: tuple[str, int]) -> dict[str, Any]:
    at = NOW - timedelta(days=days_ago)
    return {"kind": "order.paid", "subject": "p", "at": at, "lines": [{"sku": s, "quantity": q} for s, q in lines]}


def test_own_rhythm_from_earlier_purchases() -> None:
    # one bag lasted her 16 days, then she bought two bags 10 days ago: they last until 22 days from now
    (r,) = run_outs([paid(26, (RICE.sku, 1)), paid(10, (RICE.sku, 2))], CATALOGUE)
    assert (r.basis, r.days_per_unit, r.quantity) == ("own_rhythm", 16.0, 2)
    assert r.run_out_at == NOW + timedelta(days=22) and r.remind_at == NOW + timedelta(days=17)
    assert not due(r, NOW) and due(r, NOW + timedelta(days=17))


def test_catalogue_duration_for_a_first_purchase_and_the_reminder_before_the_day() -> None:
    (r,) = run_outs([paid(18, (RICE.sku, 1), ("tote-bag", 1))], CATALOGUE)  # the bag is not consumable
    assert (r.basis, r.days_per_unit) == ("catalogue", 20)
    assert r.run_out_at == NOW + timedelta(days=2) and due(r, NOW)


def test_lines_of_one_day_are_one_purchase() -> None:
    facts = [paid(30, (RICE.sku, 1)), paid(29.9, (RICE.sku, 1)), paid(10, (RICE.sku, 1)), paid(5, ("other", 1))]
    facts.append({"kind": "order.placed", "subject": "p", "at": NOW, "lines": [{"sku": RICE.sku, "quantity": 9}]})
    buys = purchases_of(facts)[RICE.sku]
    assert [q for _, q in buys] == [2, 1]  # order.placed is not a purchase
    (r,) = run_outs(facts, CATALOGUE)
    assert round(r.days_per_unit, 1) == 10.0  # two units lasted about 20 days


def test_a_run_out_long_past_is_no_longer_a_reorder_and_unknown_products_are_ignored() -> None:
    (r,) = run_outs([paid(200, (RICE.sku, 1))], CATALOGUE)
    assert not due(r, NOW)
    assert run_outs([paid(5, ("coffee", 1))], CATALOGUE) == []
