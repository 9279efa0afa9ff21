"""Predicted customer lifetime value, per customer, from PyMC-Marketing's probabilistic buy-till-you-die models:
BG/NBD (`BetaGeoModel`) for how many purchases a customer will still make and whether they are still "alive", and
Gamma-Gamma (`GammaGammaModel`) for how much they spend per purchase. Both are fitted on every customer's history
(maximum a posteriori, no sampling: seconds, not minutes) each time relationships are evaluated.

The history is summarised the way these models expect (time in days, purchases on the same day count once):
- frequency: repeat purchases (distinct purchase days after the first);
- recency: days from the first to the last purchase;
- T: days from the first purchase to now;
- monetary_value: mean amount of the repeat purchases (0 without any).

A customer with no repeat purchase yet is valued at the mean repeat order observed over everybody (see `predict`).

Fitting needs enough repeat buyers to learn from (`MIN_CUSTOMERS`, `MIN_REPEAT_BUYERS`); before that there is no
prediction, said as such rather than guessed. The library is imported here only, and `predict` is meant to run in a
worker process (`predict_in_process`): PyMC compiles and fits for seconds, which a service's event loop must not
wait for."""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cdp_analytics.domain.customers import DAY, Customer

MIN_CUSTOMERS = 20
MIN_REPEAT_BUYERS = 10
MODEL = "pymc-marketing BG/NBD + Gamma-Gamma (MAP)"


@dataclass(frozen=True)
class History:
    contact_id: str
    frequency: int
    recency: float
    T: float
    monetary_value: float


@dataclass(frozen=True)
class Prediction:
    contact_id: str
    clv: float  # net present value of the next `months`, in the shop's currency
    expected_purchases: float  # over the next `months`
    probability_alive: float
    expected_order_value: float


def histories(customers: Iterable[Customer], now: datetime) -> list[History]:
    out: list[History] = []
    for c in customers:
        if not c.purchases:
            continue
        days: dict[float, float] = {}
        for at, amount in c.purchases:
            if at > now:
                continue
            day = (at - c.purchases[0][0]).total_seconds() // DAY
            days[day] = days.get(day, 0.0) + amount
        if not days:
            continue
        first = c.purchases[0][0]
        ordered = sorted(days)
        repeats = [days[d] for d in ordered[1:]]
        out.append(
            History(
                contact_id=c.contact_id,
                frequency=len(repeats),
                recency=float(ordered[-1]),
                T=max((now - first).total_seconds() / DAY, float(ordered[-1])),
                monetary_value=sum(repeats) / len(repeats) if repeats else 0.0,
            )
        )
    return out


def enough(rows: list[History]) -> bool:
    return len(rows) >= MIN_CUSTOMERS and sum(1 for r in rows if r.frequency > 0) >= MIN_REPEAT_BUYERS


def predict(rows: list[History], months: int = 12, monthly_discount: float = 0.008) -> dict[str, Prediction]:
    """Fit both models on `rows` and predict each customer's next `months`. Empty when there is too little to
    learn from."""
    if not enough(rows):
        return {}
    import warnings

    import pandas as pd

    warnings.filterwarnings("ignore")  # PyTensor's BLAS advice and PyMC's MAP notices, once per process
    from pymc_marketing.clv import BetaGeoModel, GammaGammaModel

    data = pd.DataFrame(
        {
            "customer_id": range(len(rows)),
            "frequency": [r.frequency for r in rows],
            "recency": [r.recency for r in rows],
            "T": [r.T for r in rows],
            "monetary_value": [r.monetary_value for r in rows],
        }
    )
    transactions = BetaGeoModel(data=data[["customer_id", "frequency", "recency", "T"]])
    transactions.fit(method="map", progressbar=False)
    repeat = data[(data.frequency > 0) & (data.monetary_value > 0)]
    spend = GammaGammaModel(data=repeat[["customer_id", "frequency", "monetary_value"]].reset_index(drop=True))
    spend.fit(method="map", progressbar=False)

    def point(values: Any) -> list[float]:
        return [float(v) for v in values.mean(("chain", "draw")).values.reshape(-1)]

    horizon_days = months * 365.25 / 12
    clv = point(
        spend.expected_customer_lifetime_value(
            transaction_model=transactions, data=data, future_t=months, discount_rate=monthly_discount, time_unit="D"
        )
    )
    purchases = point(transactions.expected_purchases(data=data, future_t=horizon_days))
    alive = point(transactions.expected_probability_alive(data=data))
    order_value = point(spend.expected_customer_spend(data=data))
    # Without a repeat purchase, Gamma-Gamma can only say "the population's mean spend", and its estimate of that
    # mean is unstable when few repeat buyers spend very different amounts (its tail parameter nears 1). Such a
    # customer is valued at the mean repeat order actually observed; the value is linear in the spend, so the
    # library's discounted sum scales exactly.
    repeats = sum(r.frequency for r in rows)
    observed = sum(r.monetary_value * r.frequency for r in rows) / repeats
    for i, r in enumerate(rows):
        if r.frequency == 0 and order_value[i] > 0:
            clv[i] *= observed / order_value[i]
            order_value[i] = observed
    return {
        r.contact_id: Prediction(
            contact_id=r.contact_id,
            clv=round(clv[i], 0),
            expected_purchases=round(purchases[i], 3),
            probability_alive=round(alive[i], 3),
            expected_order_value=round(order_value[i], 0),
        )
        for i, r in enumerate(rows)
    }


async def predict_in_process(rows: list[History], months: int = 12) -> dict[str, Prediction]:
    """`predict` in a fresh worker process (spawned, used once): the service keeps answering meanwhile, and the
    memory PyMC takes is given back when it is done."""
    if not enough(rows):
        return {}
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return await asyncio.get_running_loop().run_in_executor(pool, predict, rows, months)
