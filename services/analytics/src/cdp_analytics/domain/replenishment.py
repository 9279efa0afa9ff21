"""Replenishment: for consumable products (rice, formula milk, coffee, cosmetics, water filters...), when will a
customer run out, so that a reminder goes out before that day.

The catalogue says which products are consumable and how many days one unit usually lasts. A customer who has
bought the product at least twice has their own rhythm: the median, over their earlier purchases, of the days until
the next purchase divided by the units bought. The last purchase then lasts `units x days per unit`; the reminder is
due `remind_days_before` days before the run-out day. A later purchase of the product starts a new period."""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from cdp_analytics.domain.customers import DAY


@dataclass(frozen=True)
class Consumable:
    sku: str
    name: str
    days_per_unit: float
    remind_days_before: float = 7.0


@dataclass(frozen=True)
class RunOut:
    sku: str
    last_purchase_at: datetime
    quantity: int
    days_per_unit: float
    basis: Literal["own_rhythm", "catalogue"]
    run_out_at: datetime
    remind_at: datetime


def purchases_of(facts: Iterable[dict[str, Any]]) -> dict[str, list[tuple[datetime, int]]]:
    """Per SKU, (when, units) of each paid order's line, oldest first; the lines of one calendar day (UTC) count
    as one purchase, at the first of them."""
    by_sku: dict[str, dict[date, tuple[datetime, int]]] = {}
    for f in facts:
        if f["kind"] != "order.paid":
            continue
        for line in f.get("lines") or ():
            days = by_sku.setdefault(line["sku"], {})
            at, units = days.get(f["at"].date(), (f["at"], 0))
            days[f["at"].date()] = (min(at, f["at"]), units + int(line.get("quantity") or 1))
    return {sku: sorted(days.values()) for sku, days in by_sku.items()}


def run_outs(facts: Iterable[dict[str, Any]], catalogue: dict[str, Consumable]) -> list[RunOut]:
    """When each consumable the customer bought runs out, from their last purchase of it."""
    out: list[RunOut] = []
    for sku, buys in purchases_of(facts).items():
        product = catalogue.get(sku)
        if product is None:
            continue
        own = [
            (later - earlier).total_seconds() / DAY / units for (earlier, units), (later, _) in itertools.pairwise(buys)
        ]
        basis: Literal["own_rhythm", "catalogue"] = "own_rhythm" if own else "catalogue"
        per_unit = statistics.median(own) if own else product.days_per_unit
        last_at, units = buys[-1]
        run_out = last_at + timedelta(days=per_unit * units)
        out.append(
            RunOut(
                sku=sku,
                last_purchase_at=last_at,
                quantity=units,
                days_per_unit=round(per_unit, 2),
                basis=basis,
                run_out_at=run_out,
                remind_at=run_out - timedelta(days=product.remind_days_before),
            )
        )
    return out


def due(r: RunOut, now: datetime, stale_after_days: float = 60.0) -> bool:
    """The reminder is due from `remind_at`; a run-out long past is no longer a reorder (dormancy covers it)."""
    return r.remind_at <= now < r.run_out_at + timedelta(days=stale_after_days)
