"""Quantitative data, derived from the timeline and never typed in: purchases, spend, order value, support and
engagement frequencies. Recomputed from the entries themselves, so a redelivered event cannot count twice."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

QUANTITATIVE_TYPES = frozenset({"order.paid", "order.refunded", "ticket.opened", "web.visited", "social.interacted"})


def compute(entries: list[dict[str, Any]], now: datetime) -> dict[str, Any]:
    d30, d90 = now - timedelta(days=30), now - timedelta(days=90)
    paid = [e for e in entries if e["type"] == "order.paid"]
    refunds = [e for e in entries if e["type"] == "order.refunded"]
    tickets = [e["at"] for e in entries if e["type"] == "ticket.opened"]
    visits = [e["at"] for e in entries if e["type"] == "web.visited"]
    social = [e["at"] for e in entries if e["type"] == "social.interacted"]
    currency = paid[0]["data"]["total"]["currency"] if paid else "VND"
    spent = sum(e["data"]["total"]["amount"] for e in paid) - sum(e["data"]["refund"]["amount"] for e in refunds)
    purchase_times = sorted(e["at"] for e in paid)
    return {
        "purchases": len(paid),
        "total_spent": round(spent, 2),
        "average_order_value": round(spent / len(paid), 2) if paid else None,
        "currency": currency,
        "first_purchase_at": purchase_times[0] if purchase_times else None,
        "last_purchase_at": purchase_times[-1] if purchase_times else None,
        "refunds": len(refunds),
        "support_requests_30d": sum(t >= d30 for t in tickets),
        "support_requests_90d": sum(t >= d90 for t in tickets),
        "support_requests_total": len(tickets),
        "web_visits_30d": sum(t >= d30 for t in visits),
        "web_visits_total": len(visits),
        "social_interactions_30d": sum(t >= d30 for t in social),
        "social_interactions_total": len(social),
        "computed_at": now,
    }
