"""Quantitative data, derived from the timeline and never typed in: purchases, spend, order value, support and
engagement frequencies. Kept current from each new interaction (`fold`), with a `Basis` for what the windows and
the spend need, and computed from the whole timeline when timelines are joined or parted (`compute`). Which
interactions a profile has counted is kept on the profile (`Contact.applied`), so a redelivered event cannot
count twice."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

QUANTITATIVE_TYPES = frozenset({"order.paid", "order.refunded", "ticket.opened", "web.visited", "social.interacted"})


WINDOW_DAYS = {"ticket.opened": 90, "web.visited": 30, "social.interacted": 30}  # the longest window of each
TOTALS = {"ticket.opened": "support_requests", "web.visited": "web_visits", "social.interacted": "social_interactions"}


@dataclass
class Basis:
    """What keeps a person's figures current from their new interactions alone, without reading the timeline: the
    spend before rounding, and the times of the interactions that still fall in a window."""

    spent: float = 0.0
    recent: dict[str, list[datetime]] = field(default_factory=dict)

    def to_doc(self) -> dict[str, Any]:
        # kinds hold dots, so not field names; and no arrays of arrays, which FerretDB v1 refuses
        return {"spent": self.spent, "recent": [{"kind": kind, "at": times} for kind, times in self.recent.items()]}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Basis:
        recent: dict[str, list[datetime]] = {}
        for item in doc.get("recent") or []:
            kind, times = (item["kind"], item["at"]) if isinstance(item, dict) else item  # pairs: written before
            recent[kind] = list(times)
        return cls(float(doc.get("spent") or 0.0), recent)


def fold(figures: dict[str, Any], basis: Basis, entries: list[dict[str, Any]], now: datetime) -> dict[str, Any]:
    """The figures after `entries` (interactions not counted yet; any order), updating `basis` in place."""
    q = dict(figures)
    purchases, refunds = int(q.get("purchases") or 0), int(q.get("refunds") or 0)
    first, last = q.get("first_purchase_at"), q.get("last_purchase_at")
    currency = q.get("currency") or "VND"
    totals = {k: int(q.get(f"{name}_total") or 0) for k, name in TOTALS.items()}
    for e in entries:
        kind, at = e["type"], e["at"]
        if kind == "order.paid":
            purchases += 1
            basis.spent += e["data"]["total"]["amount"]
            first = at if first is None or at < first else first
            if last is None or at > last:
                last, currency = at, e["data"]["total"].get("currency") or currency
        elif kind == "order.refunded":
            refunds += 1
            basis.spent -= e["data"]["refund"]["amount"]
        elif kind in TOTALS:
            totals[kind] += 1
            basis.recent.setdefault(kind, []).append(at)
    horizon = {kind: now - timedelta(days=days) for kind, days in WINDOW_DAYS.items()}
    basis.recent = {k: sorted(t for t in ts if t >= horizon[k]) for k, ts in basis.recent.items() if ts}
    d30, d90 = now - timedelta(days=30), now - timedelta(days=90)

    def since(kind: str, start: datetime) -> int:
        return sum(t >= start for t in basis.recent.get(kind, []))

    return {
        "purchases": purchases,
        "total_spent": round(basis.spent, 2),
        "average_order_value": round(basis.spent / purchases, 2) if purchases else None,
        "currency": currency,
        "first_purchase_at": first,
        "last_purchase_at": last,
        "refunds": refunds,
        "support_requests_30d": since("ticket.opened", d30),
        "support_requests_90d": since("ticket.opened", d90),
        "support_requests_total": totals["ticket.opened"],
        "web_visits_30d": since("web.visited", d30),
        "web_visits_total": totals["web.visited"],
        "social_interactions_30d": since("social.interacted", d30),
        "social_interactions_total": totals["social.interacted"],
        "computed_at": now,
    }


def computed_with_basis(entries: list[dict[str, Any]], now: datetime) -> tuple[dict[str, Any], Basis]:
    """The figures of a whole timeline (a merge, an undone merge, a profile kept before bases existed), and the
    basis that keeps them current from then on."""
    basis = Basis()
    return fold({}, basis, entries, now), basis


def compute(entries: list[dict[str, Any]], now: datetime) -> dict[str, Any]:
    return computed_with_basis(entries, now)[0]
