"""Segments: dynamic ones from rules over a customer's facts and scores, static ones as lists of ids.

A rule is a list of conditions that must all hold, for example "spent over 10,000,000 VND in 90 days and opened an
email in the last 30 days":

    {"all": [{"metric": "revenue", "within_days": 90, "op": "gt", "value": 10000000},
             {"metric": "count", "kind": "email.opened", "within_days": 30, "op": "gte", "value": 1}]}

Metrics: `revenue` and `purchases` (paid orders, within `within_days` or ever), `count` (facts of `kind`),
`days_since_last_purchase`, `days_since_last_activity`, `journey_stage`, `dormant`, `rfm_r`, `rfm_f`, `rfm_m`.
Conditions with a time window are evaluated again as time passes (the periodic evaluation), not only when events
arrive."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cdp_analytics.domain.customers import DAY, Customer, journey_stage

Metric = Literal[
    "revenue",
    "purchases",
    "count",
    "days_since_last_purchase",
    "days_since_last_activity",
    "journey_stage",
    "dormant",
    "rfm_r",
    "rfm_f",
    "rfm_m",
]
Op = Literal["gt", "gte", "lt", "lte", "eq", "ne", "in"]


class Condition(BaseModel):
    model_config = ConfigDict(extra="forbid")
    metric: Metric
    op: Op
    value: float | bool | str | list[str]
    within_days: int | None = Field(None, ge=1, le=3650, description="Only facts of the last N days count.")
    kind: str | None = Field(None, max_length=64, description="The event type `count` counts, e.g. email.opened.")

    @model_validator(mode="after")
    def _coherent(self) -> Condition:
        if self.metric == "count" and not self.kind:
            raise ValueError("`count` needs `kind` (the event type to count)")
        if self.op == "in" and not isinstance(self.value, list):
            raise ValueError("`in` needs a list as `value`")
        if self.metric in ("journey_stage",) and self.op not in ("eq", "ne", "in"):
            raise ValueError("journey_stage compares with eq, ne or in")
        return self


class Rules(BaseModel):
    model_config = ConfigDict(extra="forbid")
    all: list[Condition] = Field(min_length=1, max_length=20)


def _since(now: datetime, days: int | None) -> datetime | None:
    return now - timedelta(days=days) if days else None


def measure(c: Condition, customer: Customer, scores: dict[str, Any], now: datetime) -> Any:
    since = _since(now, c.within_days)
    if c.metric == "revenue":
        return customer.paid_since(since)[1]
    if c.metric == "purchases":
        return customer.paid_since(since)[0]
    if c.metric == "count":
        return customer.count_since(c.kind or "", since)
    if c.metric == "days_since_last_purchase":
        last = customer.last_purchase_at
        return (now - last).total_seconds() / DAY if last else None
    if c.metric == "days_since_last_activity":
        return (now - customer.last_activity).total_seconds() / DAY if customer.last_activity else None
    if c.metric == "journey_stage":
        return journey_stage(customer)
    if c.metric == "dormant":
        return scores.get("dormant") is not None
    rfm = scores.get("rfm")
    if not rfm:
        return None
    return int(rfm[["rfm_r", "rfm_f", "rfm_m"].index(c.metric)])


def holds(c: Condition, measured: Any) -> bool:
    if measured is None:
        return False
    v = c.value
    if c.op == "in":
        return measured in v  # type: ignore[operator]
    if c.op == "eq":
        return bool(measured == v)
    if c.op == "ne":
        return bool(measured != v)
    if isinstance(measured, str) or isinstance(v, (str, list)):
        return False
    ops = {"gt": measured > v, "gte": measured >= v, "lt": measured < v, "lte": measured <= v}
    return bool(ops[c.op])


def matches(rules: Rules, customer: Customer, scores: dict[str, Any], now: datetime) -> bool:
    return all(holds(c, measure(c, customer, scores, now)) for c in rules.all)


BUILT_IN: dict[str, tuple[str, Rules]] = {
    "top-spenders": (
        "The customers who spend most (top fifth by spend over the last year)",
        Rules(all=[Condition(metric="rfm_m", op="eq", value=5)]),
    ),
    "loyal": (
        "Long-standing loyal customers (bought in the last 90 days, four purchases or more in the last year)",
        Rules(
            all=[
                Condition(metric="days_since_last_purchase", op="lte", value=90),
                Condition(metric="purchases", op="gte", value=4, within_days=365),
            ]
        ),
    ),
    "lost-to-competitor": (
        "Deals lost to a competitor in the last year",
        Rules(all=[Condition(metric="count", kind="deal.lost_to_competitor", op="gte", value=1, within_days=365)]),
    ),
    "silent": (
        "Unusually silent for their own buying rhythm",
        Rules(all=[Condition(metric="dormant", op="eq", value=True)]),
    ),
}
