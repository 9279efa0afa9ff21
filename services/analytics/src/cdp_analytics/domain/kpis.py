"""The KPIs a business steers by, computed from facts (one per event, so a replay or a redelivery never counts
twice). Each figure carries its formula and the inputs it counted; every period comes with the previous one."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

LOST_AFTER = timedelta(days=365)  # a customer with no paid order for a year counts as lost


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime  # exclusive

    def previous(self) -> Period:
        return Period(self.start - (self.end - self.start), self.start)

    def has(self, t: datetime) -> bool:
        return self.start <= t < self.end


def _pct(num: float, den: float) -> float | None:
    return round(100 * num / den, 2) if den else None


def _div(num: float, den: float) -> float | None:
    return round(num / den, 2) if den else None


def kpi(value: float | None, formula: str, **inputs: Any) -> dict[str, Any]:
    return {"value": value, "formula": formula, "inputs": inputs}


def compute(facts: list[dict[str, Any]], p: Period) -> dict[str, Any]:
    """`facts`: every fact up to `p.end` (earlier ones matter: who was a customer at the start)."""
    by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in facts:
        by_type[f["kind"]].append(f)
    inside = {k: [f for f in v if p.has(f["at"])] for k, v in by_type.items()}

    paid = by_type["order.paid"]
    first_paid: dict[str, datetime] = {}
    last_paid_before: dict[str, list[datetime]] = defaultdict(list)
    for f in sorted(paid, key=lambda f: f["at"]):
        first_paid.setdefault(f["subject"], f["at"])
        last_paid_before[f["subject"]].append(f["at"])
    at_start = {c for c, t in first_paid.items() if t < p.start}
    new = {c for c, t in first_paid.items() if p.has(t)}
    at_end = at_start | new
    lost = {c for c in at_start if not any(p.end - LOST_AFTER <= t < p.end for t in last_paid_before[c])}
    active_end = len(at_end - lost)

    revenue = sum(f["amount"] for f in inside.get("order.paid", [])) - sum(
        f["amount"] for f in inside.get("order.refunded", [])
    )
    orders = len(inside.get("order.paid", []))
    marketing_revenue = sum(f["amount"] for f in inside.get("order.paid", []) if f.get("campaign_id"))
    spend = inside.get("marketing.spend_recorded", [])
    marketing_cost = sum(f["amount"] for f in spend if f.get("spend_kind", "marketing") == "marketing")
    sales_cost = sum(f["amount"] for f in spend if f.get("spend_kind") == "sales")
    leads = len({f["subject"] for f in inside.get("lead.form_submitted", [])})

    csat = [
        f["score"]
        for f in inside.get("survey.answered", [])
        if f.get("survey_kind") == "csat" and f.get("score") is not None
    ]
    nps = [
        f["score"]
        for f in inside.get("survey.answered", [])
        if f.get("survey_kind") == "nps" and f.get("score") is not None
    ]
    promoters, detractors = sum(s >= 9 for s in nps), sum(s <= 6 for s in nps)

    won = inside.get("deal.won", [])
    lost_deals = inside.get("deal.lost", [])
    first_lead: dict[str, datetime] = {}
    for f in sorted(by_type["lead.form_submitted"], key=lambda f: f["at"]):
        first_lead.setdefault(f["subject"], f["at"])
    cycles = [(f["at"] - first_lead[f["subject"]]).total_seconds() / 86400 for f in won if f["subject"] in first_lead]

    sent = {f["message_id"] for f in inside.get("email.sent", [])}
    opened = {f["message_id"] for f in inside.get("email.opened", [])} & sent
    clicked = {f["message_id"] for f in inside.get("email.clicked", [])} & sent

    years = max((p.end - p.start).days / 365.0, 1 / 365)
    annual_revenue_per_customer = _div(revenue / years, len(at_end)) if at_end else None
    churn = _pct(len(lost), len(at_start))
    retention_years = (100 / churn * years) if churn else None
    cac = _div(marketing_cost + sales_cost, len(new))
    clv = (
        round(annual_revenue_per_customer * retention_years - (cac or 0), 2)
        if annual_revenue_per_customer is not None and retention_years
        else None
    )
    return {
        "customers_at_start": len(at_start),
        "new_customers": len(new),
        "customers_at_end": len(at_end),
        "lost_customers": len(lost),
        "active_customers_at_end": active_end,
        "retention_rate": kpi(
            _pct(len(at_end) - len(new), len(at_start)),
            "(customers at end - new customers) / customers at start x 100",
            customers_at_end=len(at_end),
            new_customers=len(new),
            customers_at_start=len(at_start),
        ),
        "churn_rate": kpi(
            churn,
            "customers lost / customers at start x 100 (lost: no paid order in the last 365 days)",
            lost=len(lost),
            customers_at_start=len(at_start),
        ),
        "csat": kpi(
            _pct(sum(s >= 4 for s in csat), len(csat)),
            "positive ratings (4-5) / all ratings x 100",
            positive=sum(s >= 4 for s in csat),
            ratings=len(csat),
        ),
        "nps": kpi(
            round(100 * (promoters - detractors) / len(nps), 2) if nps else None,
            "% promoters (9-10) - % detractors (0-6)",
            promoters=promoters,
            passives=len(nps) - promoters - detractors,
            detractors=detractors,
            answers=len(nps),
        ),
        "customer_acquisition_cost": kpi(
            cac,
            "(marketing + sales cost) / new customers",
            marketing_cost=marketing_cost,
            sales_cost=sales_cost,
            new_customers=len(new),
        ),
        "cost_per_lead": kpi(
            _div(marketing_cost, leads), "marketing cost / leads", marketing_cost=marketing_cost, leads=leads
        ),
        "conversion_rate": kpi(_pct(len(won), leads), "won deals / leads x 100", won=len(won), leads=leads),
        "win_rate": kpi(
            _pct(len(won), len(won) + len(lost_deals)),
            "won / closed opportunities x 100",
            won=len(won),
            lost=len(lost_deals),
        ),
        "sales_cycle_days": kpi(
            round(sum(cycles) / len(cycles), 1) if cycles else None,
            "average days from first lead to won deal",
            deals=len(cycles),
        ),
        "average_deal_value": kpi(
            _div(sum(f["amount"] for f in won), len(won)),
            "won revenue / won deals",
            revenue=sum(f["amount"] for f in won),
            deals=len(won),
        ),
        "average_order_value": kpi(
            _div(revenue, orders), "revenue (paid - refunded) / paid orders", revenue=revenue, orders=orders
        ),
        "email_open_rate": kpi(
            _pct(len(opened), len(sent)), "distinct opened / sent x 100", opened=len(opened), sent=len(sent)
        ),
        "email_click_through_rate": kpi(
            _pct(len(clicked), len(sent)), "distinct clicked / sent x 100", clicked=len(clicked), sent=len(sent)
        ),
        "marketing_roi": kpi(
            _pct(marketing_revenue - marketing_cost, marketing_cost),
            "(revenue from marketing - marketing cost) / marketing cost x 100 "
            "(revenue from marketing: paid orders carrying a campaign id)",
            marketing_revenue=marketing_revenue,
            marketing_cost=marketing_cost,
        ),
        "customer_lifetime_value": kpi(
            clv,
            "average annual revenue per customer x expected retention time (years, "
            "from the churn rate) - acquisition cost",
            annual_revenue_per_customer=annual_revenue_per_customer,
            retention_years=round(retention_years, 2) if retention_years else None,
            cac=cac,
        ),
    }


SPEND_KPIS = ("customer_acquisition_cost", "cost_per_lead", "marketing_roi")


def for_members(facts: list[dict[str, Any]], members: set[str], p: Period) -> dict[str, Any]:
    """The KPIs of one segment: every person-level fact of its members (their orders, deals, surveys, emails...).
    Spend is recorded per campaign, not per person, so the KPIs built on it are not computed for a segment, and the
    segment's CLV leaves acquisition cost out; each says so in its formula."""
    out = compute([f for f in facts if f["subject"] in members], p)
    for name in SPEND_KPIS:
        out[name] = kpi(None, out[name]["formula"] + " - not per segment: spend is recorded per campaign")
    clv = out["customer_lifetime_value"]
    clv["formula"] += " (per segment: acquisition cost left out, spend is recorded per campaign)"
    clv["inputs"]["cac"] = None
    out["segment_members"] = len(members)
    return out
