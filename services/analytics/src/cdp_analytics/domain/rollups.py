"""Daily roll-ups: what a KPI over whole days needs, kept per UTC day as it arrives, so a KPI query reads a few
hundred small documents instead of every fact (issue #6: any KPI under 1 s over 1,000,000 events).

Additive figures (revenue, orders, spend, ratings, won deals...) are summed on the day of their event. The figures
that count people or messages once (new customers, lost customers, leads, emails opened) are kept so that a sum over
days still counts each once:
- `first_paid`: +1 on a customer's first paid day (moves when an older order arrives late);
- `cov_start` / `cov_end`: a paid order covers its day and the 364 after it; a customer's covered stretches start
  and end on these days, so the customers covered on day D are the starts minus the ends up to D (a customer not
  covered at a period's end, who was a customer at its start, is lost);
- `lapse_from.<day>` / `lapse_to.<day>`, kept on the customer's first paid day: when their uncovered stretches begin
  and end (needed only for periods longer than 365 days, where a new customer can lapse inside the period);
- `lead_after.<day>`: on each day a person submitted a lead form, +1 keyed by their previous lead day ("0": none),
  so a period counts a person once: on their first lead day inside it (the previous one lies before it);
- `cycle_seconds` / `cycle_deals`: on a won deal's day, the time since the person's first lead (at or before it);
- `email_sent` on a message's first sending day, with `email_opened_by.<day>` / `email_clicked_by.<day>` keyed by
  the day it was first opened or clicked: opened emails of a period = sent in it, first opened before its end.

`CustomerState.apply` folds one fact into a customer and returns the change it makes to the roll-ups, so the same
facts in the same order always give the same changes (the adapter applies each change exactly once)."""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cdp_common.digests import digest

COVER = timedelta(days=365)  # a customer with no paid order for a year counts as lost
NONE = "0"  # "no previous lead day": sorts before every ISO date

Delta = dict[tuple[str, str], float]  # (day, field path) -> change


def day_of(at: datetime) -> date:
    return (at if at.tzinfo is None else at.astimezone(UTC)).date()


def _covered(paid_days: list[date]) -> list[tuple[date, date]]:
    """The union of [paid day, paid day + 365) as disjoint stretches, in order."""
    out: list[tuple[date, date]] = []
    for d in paid_days:
        if out and d <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], d + COVER))
        else:
            out.append((d, d + COVER))
    return out


def _paid_contribution(paid_days: list[date]) -> Delta:
    out: Delta = defaultdict(float)
    if not paid_days:
        return out
    first = paid_days[0].isoformat()
    out[(first, "first_paid")] += 1
    stretches = _covered(paid_days)
    for i, (start, end) in enumerate(stretches):
        out[(start.isoformat(), "cov_start")] += 1
        out[(end.isoformat(), "cov_end")] += 1
        out[(first, f"lapse_from.{end.isoformat()}")] += 1  # uncovered from `end`...
        if i + 1 < len(stretches):
            out[(first, f"lapse_to.{stretches[i + 1][0].isoformat()}")] += 1  # ...until the next stretch
    return out


def _lead_contribution(lead_days: list[date], first_lead: datetime | None, won: list[datetime]) -> Delta:
    out: Delta = defaultdict(float)
    previous = NONE
    for d in lead_days:
        out[(d.isoformat(), f"lead_after.{previous}")] += 1
        previous = d.isoformat()
    if first_lead is not None:
        for at in won:
            if at >= first_lead:
                day = day_of(at).isoformat()
                out[(day, "cycle_seconds")] += int((at - first_lead).total_seconds())
                out[(day, "cycle_deals")] += 1
    return out


@dataclass
class Message:
    sent: date | None = None
    opened: date | None = None
    clicked: date | None = None

    def mark(self, kind: str, day: date) -> None:
        """`email.sent`, `email.opened` or `email.clicked` on `day`: each kept as its first day."""
        slot = kind.removeprefix("email.")
        current = getattr(self, slot)
        setattr(self, slot, day if current is None else min(current, day))

    def contribution(self) -> Delta:
        out: Delta = defaultdict(float)
        if self.sent is None:
            return out
        day = self.sent.isoformat()
        out[(day, "email_sent")] += 1
        if self.opened is not None:
            out[(day, f"email_opened_by.{self.opened.isoformat()}")] += 1
        if self.clicked is not None:
            out[(day, f"email_clicked_by.{self.clicked.isoformat()}")] += 1
        return out


def _local(fact: dict[str, Any]) -> Delta:
    """What one fact adds on its own day, whatever else the customer did."""
    kind, day = fact["kind"], day_of(fact["at"]).isoformat()
    out: Delta = defaultdict(float)

    def add(name: str, value: float | int) -> None:
        if value:
            out[(day, name)] += value

    amount = float(fact.get("amount") or 0.0)
    if kind == "contact_created":
        add("contacts_created", 1)
    elif kind == "order.paid":
        add("paid_orders", 1)
        add("paid_revenue", amount)
        if fact.get("campaign_id"):
            add("marketing_revenue", amount)
    elif kind == "order.refunded":
        add("refunded", amount)
    elif kind == "marketing.spend_recorded":
        add("sales_cost" if fact.get("spend_kind") == "sales" else "marketing_cost", amount)
    elif kind == "survey.answered" and fact.get("score") is not None:
        score = int(fact["score"])
        if fact.get("survey_kind") == "csat":
            add("csat_ratings", 1)
            add("csat_positive", int(score >= 4))
        elif fact.get("survey_kind") == "nps":
            add("nps_answers", 1)
            add("nps_promoters", int(score >= 9))
            add("nps_detractors", int(score <= 6))
    elif kind == "deal.won":
        add("won", 1)
        add("won_amount", amount)
    elif kind == "deal.lost":
        add("deals_lost", 1)
    return out


def _change(before: Delta, after: Delta) -> Delta:
    out = dict(after)
    for k, v in before.items():
        out[k] = out.get(k, 0) - v
    return {k: v for k, v in out.items() if v}


def _merge(into: Delta, more: Delta) -> None:
    for k, v in more.items():
        into[k] = into.get(k, 0) + v


@dataclass
class CustomerState:
    """The part of a customer's facts that the people- and message-counting roll-ups depend on."""

    paid_days: list[date] = field(default_factory=list)
    lead_days: list[date] = field(default_factory=list)
    first_lead: datetime | None = None
    won: list[datetime] = field(default_factory=list)
    messages: dict[int, Message] = field(default_factory=dict)  # by the digest of the message id

    @classmethod
    def of(cls, facts: list[dict[str, Any]]) -> CustomerState:
        """The state after `facts` (built directly: folding them one by one would recompute each change)."""
        state = cls()
        paid: set[date] = set()
        leads: set[date] = set()
        for f in facts:
            kind, at = f["kind"], f["at"]
            if kind == "order.paid":
                paid.add(day_of(at))
            elif kind == "lead.form_submitted":
                leads.add(day_of(at))
                state.first_lead = at if state.first_lead is None else min(state.first_lead, at)
            elif kind == "deal.won":
                state.won.append(at)
            elif kind in ("email.sent", "email.opened", "email.clicked") and f.get("message_id"):
                state.messages.setdefault(digest(f["message_id"]), Message()).mark(kind, day_of(at))
        state.paid_days, state.lead_days = sorted(paid), sorted(leads)
        state.won.sort()
        return state

    def email_days(self) -> list[int]:
        """Each message as four numbers: its digest and the days (ordinals, 0 for never) it was first sent, opened and
        clicked (the layout `domain.kpis.Member` reads)."""
        out: list[int] = []
        for key, m in self.messages.items():
            out += [key, *(0 if d is None else d.toordinal() for d in (m.sent, m.opened, m.clicked))]
        return out

    def apply(self, fact: dict[str, Any]) -> Delta:
        """Fold `fact` in; the change it makes to the roll-ups."""
        kind, at = fact["kind"], fact["at"]
        day = day_of(at)
        delta = _local(fact)
        if kind == "order.paid":
            if day not in self.paid_days:
                before = _paid_contribution(self.paid_days)
                bisect.insort(self.paid_days, day)
                _merge(delta, _change(before, _paid_contribution(self.paid_days)))
        elif kind in ("lead.form_submitted", "deal.won"):
            before = _lead_contribution(self.lead_days, self.first_lead, self.won)
            if kind == "deal.won":
                bisect.insort(self.won, at)
            else:
                if day not in self.lead_days:
                    bisect.insort(self.lead_days, day)
                self.first_lead = at if self.first_lead is None else min(self.first_lead, at)
            _merge(delta, _change(before, _lead_contribution(self.lead_days, self.first_lead, self.won)))
        elif kind in ("email.sent", "email.opened", "email.clicked") and fact.get("message_id"):
            message = self.messages.setdefault(digest(fact["message_id"]), Message())
            before = message.contribution()
            message.mark(kind, day)
            _merge(delta, _change(before, message.contribution()))
        return {k: v for k, v in delta.items() if v}


def roll_up(facts: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every fact's roll-up from scratch, as day documents (the reference the incremental path must equal)."""
    days: dict[str, dict[str, Any]] = {}
    grouped: dict[str, list[dict[str, Any]]] = {}
    for f in facts:
        grouped.setdefault(f["subject"], []).append(f)
    for own in grouped.values():
        state = CustomerState()
        for f in sorted(own, key=lambda f: f["at"]):
            for (day, path), value in state.apply(f).items():
                add_to(days.setdefault(day, {"_id": day}), path, value)
    return days


def add_to(doc: dict[str, Any], path: str, value: float) -> None:
    """`$inc` on a document held in memory (paths have at most one dot)."""
    head, _, tail = path.partition(".")
    if tail:
        inner = doc.setdefault(head, {})
        inner[tail] = inner.get(tail, 0) + value
    else:
        doc[head] = doc.get(head, 0) + value
