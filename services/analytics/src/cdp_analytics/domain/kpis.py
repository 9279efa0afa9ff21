"""The KPIs a business steers by, computed from facts (one per event, so a replay or a redelivery never counts
twice). Each figure carries its formula and the inputs it counted; every period comes with the previous one."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cdp_analytics.domain.customers import Customer, epoch_ms

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


@dataclass
class Tally:
    """The inputs every KPI of a period is computed from: counted from facts, or summed from daily roll-ups."""

    customers_at_start: int = 0
    new_customers: int = 0
    lost_customers: int = 0
    revenue: float = 0.0
    orders: int = 0
    marketing_revenue: float = 0.0
    marketing_cost: float = 0.0
    sales_cost: float = 0.0
    leads: int = 0
    csat_ratings: int = 0
    csat_positive: int = 0
    nps_answers: int = 0
    promoters: int = 0
    detractors: int = 0
    won: int = 0
    won_amount: float = 0.0
    deals_lost: int = 0
    cycle_seconds: int = 0
    cycle_deals: int = 0
    emails_sent: int = 0
    emails_opened: int = 0
    emails_clicked: int = 0


def tally(facts: list[dict[str, Any]], p: Period) -> Tally:
    """`facts`: every fact up to `p.end` (earlier ones matter: who was a customer at the start).

    Whole days: a customer is lost when no paid order falls in the 365 days before the period's end; a sales cycle
    runs from the person's first lead to a won deal at or after it; an email is sent on its first sending and counts
    as opened (clicked) when it was first opened (clicked) before the period's end."""
    by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in facts:
        by_type[f["kind"]].append(f)
    inside = {k: [f for f in v if p.has(f["at"])] for k, v in by_type.items()}

    first_paid: dict[str, datetime] = {}
    paid_at: dict[str, list[datetime]] = defaultdict(list)
    for f in sorted(by_type["order.paid"], key=lambda f: f["at"]):
        first_paid.setdefault(f["subject"], f["at"])
        paid_at[f["subject"]].append(f["at"])
    at_start = {c for c, t in first_paid.items() if t < p.start}
    new = {c for c, t in first_paid.items() if p.has(t)}
    lost = {c for c in at_start if not any(p.end - LOST_AFTER <= t < p.end for t in paid_at[c])}

    t = Tally(customers_at_start=len(at_start), new_customers=len(new), lost_customers=len(lost))
    paid_inside = inside.get("order.paid", [])
    t.revenue = sum(f["amount"] for f in paid_inside) - sum(f["amount"] for f in inside.get("order.refunded", []))
    t.orders = len(paid_inside)
    t.marketing_revenue = sum(f["amount"] for f in paid_inside if f.get("campaign_id"))
    spend = inside.get("marketing.spend_recorded", [])
    t.marketing_cost = sum(f["amount"] for f in spend if f.get("spend_kind", "marketing") != "sales")
    t.sales_cost = sum(f["amount"] for f in spend if f.get("spend_kind") == "sales")
    t.leads = len({f["subject"] for f in inside.get("lead.form_submitted", [])})

    scored = [f for f in inside.get("survey.answered", []) if f.get("score") is not None]
    csat = [f["score"] for f in scored if f.get("survey_kind") == "csat"]
    nps = [f["score"] for f in scored if f.get("survey_kind") == "nps"]
    t.csat_ratings, t.csat_positive = len(csat), sum(s >= 4 for s in csat)
    t.nps_answers, t.promoters, t.detractors = len(nps), sum(s >= 9 for s in nps), sum(s <= 6 for s in nps)

    won = inside.get("deal.won", [])
    t.won, t.won_amount, t.deals_lost = len(won), sum(f["amount"] for f in won), len(inside.get("deal.lost", []))
    first_lead: dict[str, datetime] = {}
    for f in by_type["lead.form_submitted"]:
        first_lead[f["subject"]] = min(f["at"], first_lead.get(f["subject"], f["at"]))
    for f in won:
        lead_at = first_lead.get(f["subject"])
        if lead_at is not None and lead_at <= f["at"]:
            t.cycle_seconds += int((f["at"] - lead_at).total_seconds())
            t.cycle_deals += 1

    first_sent: dict[str, datetime] = {}
    for f in by_type["email.sent"]:
        first_sent[f["message_id"]] = min(f["at"], first_sent.get(f["message_id"], f["at"]))
    sent = {m for m, at in first_sent.items() if p.has(at)}
    t.emails_sent = len(sent)
    t.emails_opened = len(sent & {f["message_id"] for f in by_type["email.opened"]})
    t.emails_clicked = len(sent & {f["message_id"] for f in by_type["email.clicked"]})
    return t


@dataclass(frozen=True)
class Member:
    """What a segment's KPIs read of one member: their summary (`Customer`: purchases, refunds, won and lost deals,
    leads, scored survey answers, each with its time) and their emails, four numbers each: the message's digest and
    the days (ordinals, 0 for never) it was first sent, opened and clicked (`domain.rollups.Message`)."""

    customer: Customer
    emails: Sequence[int] = ()


def tally_of_members(members: Iterable[Member], p: Period) -> Tally:
    """The same inputs as `tally`, from each member's summary instead of their facts (a segment's KPIs read a few
    small documents per member, not every fact). Gives what `tally` gives on the members' facts before `p.end`."""
    start, end, lost_from = epoch_ms(p.start), epoch_ms(p.end), epoch_ms(p.end - LOST_AFTER)
    first_day, end_day = p.start.date().toordinal(), p.end.date().toordinal()
    t = Tally()
    for m in members:
        c = m.customer
        paid = c.paid_ms
        if paid:
            if paid[0] < start:
                t.customers_at_start += 1
                _, _, i, j = c.window("order.paid", lost_from, end)
                t.lost_customers += i == j
            elif paid[0] < end:
                t.new_customers += 1
            _, amounts, i, j = c.window("order.paid", start, end)
            t.orders += j - i
            t.revenue += sum(amounts[i:j]) if amounts else 0.0
        _, refunds, i, j = c.window("order.refunded", start, end)
        t.revenue -= sum(refunds[i:j]) if refunds else 0.0
        _, campaign, i, j = c.window("order.paid_from_campaign", start, end)
        t.marketing_revenue += sum(campaign[i:j]) if campaign else 0.0
        leads, _, i, j = c.window("lead.form_submitted", start, end)
        t.leads += i < j
        _, scores, i, j = c.window("survey.csat", start, end)
        if scores:
            t.csat_ratings += j - i
            t.csat_positive += sum(s >= 4 for s in scores[i:j])
        _, scores, i, j = c.window("survey.nps", start, end)
        if scores:
            t.nps_answers += j - i
            t.promoters += sum(s >= 9 for s in scores[i:j])
            t.detractors += sum(s <= 6 for s in scores[i:j])
        won, amounts, i, j = c.window("deal.won", start, end)
        if amounts:
            t.won += j - i
            t.won_amount += sum(amounts[i:j])
            if leads:
                for at in won[i:j]:
                    if at >= leads[0]:  # a deal won at or after the person's first lead
                        t.cycle_seconds += (at - leads[0]) // 1000
                        t.cycle_deals += 1
        _, _, i, j = c.window("deal.lost", start, end)
        t.deals_lost += j - i
        e = m.emails
        for k in range(0, len(e), 4):
            if first_day <= e[k + 1] < end_day:
                t.emails_sent += 1
                t.emails_opened += 0 < e[k + 2] < end_day
                t.emails_clicked += 0 < e[k + 3] < end_day
    return t


def tally_of_days(days: list[dict[str, Any]], p: Period) -> Tally:
    """The same inputs summed from daily roll-ups (`domain.rollups`): `days` holds every day document up to `p.end`
    (earlier days count too: who was a customer at the start, who was covered). `p` is whole UTC days."""
    start, end = p.start.date().isoformat(), p.end.date().isoformat()
    last = (p.end.date() - timedelta(days=1)).isoformat()
    t = Tally()
    before, inside = [d for d in days if d["_id"] < start], [d for d in days if start <= d["_id"] < end]

    def total(docs: list[dict[str, Any]], name: str) -> Any:
        return sum(d.get(name, 0) for d in docs)

    def keyed(docs: list[dict[str, Any]], name: str, keep: Any) -> Any:
        return sum(n for d in docs for k, n in (d.get(name) or {}).items() if keep(k))

    t.customers_at_start = total(before, "first_paid")
    t.new_customers = total(inside, "first_paid")
    # covered: customers with a paid order in the 365 days before the end; new_lapsed: the period's new customers
    # who are no longer covered at its end (possible only in periods longer than 365 days)
    covered = total(before + inside, "cov_start") - total(before + inside, "cov_end")
    new_lapsed = keyed(inside, "lapse_from", lambda k: k <= last) - keyed(inside, "lapse_to", lambda k: k <= last)
    t.lost_customers = t.customers_at_start - (covered - (t.new_customers - new_lapsed))
    t.revenue = total(inside, "paid_revenue") - total(inside, "refunded")
    t.orders = total(inside, "paid_orders")
    t.marketing_revenue = total(inside, "marketing_revenue")
    t.marketing_cost, t.sales_cost = total(inside, "marketing_cost"), total(inside, "sales_cost")
    t.leads = keyed(inside, "lead_after", lambda k: k < start)
    t.csat_ratings, t.csat_positive = total(inside, "csat_ratings"), total(inside, "csat_positive")
    t.nps_answers = total(inside, "nps_answers")
    t.promoters, t.detractors = total(inside, "nps_promoters"), total(inside, "nps_detractors")
    t.won, t.won_amount, t.deals_lost = total(inside, "won"), total(inside, "won_amount"), total(inside, "deals_lost")
    t.cycle_seconds, t.cycle_deals = total(inside, "cycle_seconds"), total(inside, "cycle_deals")
    t.emails_sent = total(inside, "email_sent")
    t.emails_opened = keyed(inside, "email_opened_by", lambda k: k < end)
    t.emails_clicked = keyed(inside, "email_clicked_by", lambda k: k < end)
    return t


def of_days(days: list[dict[str, Any]], p: Period) -> dict[str, Any]:
    """Every KPI of `p` from the day documents (`days`: any that include every day before `p.end`)."""
    return figures(tally_of_days([d for d in days if d["_id"] < p.end.date().isoformat()], p), p)


def compute(facts: list[dict[str, Any]], p: Period) -> dict[str, Any]:
    """Every KPI of `p` from `facts` (every fact up to `p.end`)."""
    return figures(tally(facts, p), p)


def figures(t: Tally, p: Period) -> dict[str, Any]:
    """Every KPI of `p`, each with its formula and the inputs it counted."""
    at_start, new, lost = t.customers_at_start, t.new_customers, t.lost_customers
    at_end = at_start + new
    revenue, orders, leads = t.revenue, t.orders, t.leads
    marketing_cost, sales_cost, marketing_revenue = t.marketing_cost, t.sales_cost, t.marketing_revenue
    won, won_amount, lost_deals = t.won, t.won_amount, t.deals_lost
    promoters, detractors, nps_answers = t.promoters, t.detractors, t.nps_answers
    years = max((p.end - p.start).days / 365.0, 1 / 365)
    annual_revenue_per_customer = _div(revenue / years, at_end) if at_end else None
    churn = _pct(lost, at_start)
    retention_years = (100 / churn * years) if churn else None
    cac = _div(marketing_cost + sales_cost, new)
    clv = (
        round(annual_revenue_per_customer * retention_years - (cac or 0), 2)
        if annual_revenue_per_customer is not None and retention_years
        else None
    )
    return {
        "customers_at_start": at_start,
        "new_customers": new,
        "customers_at_end": at_end,
        "lost_customers": lost,
        "active_customers_at_end": at_end - lost,
        "retention_rate": kpi(
            _pct(at_end - new, at_start),
            "(customers at end - new customers) / customers at start x 100",
            customers_at_end=at_end,
            new_customers=new,
            customers_at_start=at_start,
        ),
        "churn_rate": kpi(
            churn,
            "customers lost / customers at start x 100 (lost: no paid order in the last 365 days)",
            lost=lost,
            customers_at_start=at_start,
        ),
        "csat": kpi(
            _pct(t.csat_positive, t.csat_ratings),
            "positive ratings (4-5) / all ratings x 100",
            positive=t.csat_positive,
            ratings=t.csat_ratings,
        ),
        "nps": kpi(
            round(100 * (promoters - detractors) / nps_answers, 2) if nps_answers else None,
            "% promoters (9-10) - % detractors (0-6)",
            promoters=promoters,
            passives=nps_answers - promoters - detractors,
            detractors=detractors,
            answers=nps_answers,
        ),
        "customer_acquisition_cost": kpi(
            cac,
            "(marketing + sales cost) / new customers",
            marketing_cost=marketing_cost,
            sales_cost=sales_cost,
            new_customers=new,
        ),
        "cost_per_lead": kpi(
            _div(marketing_cost, leads), "marketing cost / leads", marketing_cost=marketing_cost, leads=leads
        ),
        "conversion_rate": kpi(_pct(won, leads), "won deals / leads x 100", won=won, leads=leads),
        "win_rate": kpi(
            _pct(won, won + lost_deals),
            "won / closed opportunities x 100",
            won=won,
            lost=lost_deals,
        ),
        "sales_cycle_days": kpi(
            round(t.cycle_seconds / t.cycle_deals / 86400, 1) if t.cycle_deals else None,
            "average days from the first lead to a won deal (deals won at or after a lead)",
            deals=t.cycle_deals,
        ),
        "average_deal_value": kpi(
            _div(won_amount, won),
            "won revenue / won deals",
            revenue=won_amount,
            deals=won,
        ),
        "average_order_value": kpi(
            _div(revenue, orders), "revenue (paid - refunded) / paid orders", revenue=revenue, orders=orders
        ),
        "email_open_rate": kpi(
            _pct(t.emails_opened, t.emails_sent),
            "emails sent in the period and opened by its end / emails sent x 100",
            opened=t.emails_opened,
            sent=t.emails_sent,
        ),
        "email_click_through_rate": kpi(
            _pct(t.emails_clicked, t.emails_sent),
            "emails sent in the period and clicked by its end / emails sent x 100",
            clicked=t.emails_clicked,
            sent=t.emails_sent,
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


def for_members(members: list[Member], size: int, p: Period) -> dict[str, Any]:
    """The KPIs of one segment of `size` people, from the summaries of its `members` who have one (their orders,
    deals, surveys, emails...). Spend is recorded per campaign, not per person, so the KPIs built on it are not
    computed for a segment, and the segment's CLV leaves acquisition cost out; each says so in its formula."""
    out = figures(tally_of_members(members, p), p)
    for name in SPEND_KPIS:
        out[name] = kpi(None, out[name]["formula"] + " - not per segment: spend is recorded per campaign")
    clv = out["customer_lifetime_value"]
    clv["formula"] += " (per segment: acquisition cost left out, spend is recorded per campaign)"
    clv["inputs"]["cac"] = None
    out["segment_members"] = size
    return out
