"""Analytics use cases: every event that feeds a KPI becomes one fact keyed by its event id (a redelivery or a
replay adds nothing) and a change to the daily roll-ups, a consumer batch at a time; the people it is about are
evaluated against every segment, each once per batch, from the summary the batch leaves them with: decided while the
batch is being written, changed once it is written (a failed write redelivers the batch, which decides again)."""

from __future__ import annotations

from typing import Any

from cdp_common.contracts.contacts import ContactCreated
from cdp_common.events import EventEnvelope, utcnow
from cdp_common.messaging import Delivery

from cdp_analytics.adapters.facts import Arrival, Facts
from cdp_analytics.domain.customers import Customer
from cdp_analytics.service_layer.segments import Segments


def values_of(event_type: str, p: Any) -> dict[str, Any]:
    """The few numbers and ids a KPI needs; never names, emails or phones."""
    if event_type in ("order.paid", "order.placed"):
        lines = [{"sku": line.sku, "quantity": line.quantity} for line in p.lines]
        return {"amount": p.total.amount, "currency": p.total.currency, "campaign_id": p.campaign_id, "lines": lines}
    if event_type == "order.refunded":
        return {"amount": p.refund.amount, "currency": p.refund.currency}
    if event_type in ("deal.opened", "deal.won"):
        return {"amount": p.value.amount, "deal_id": p.deal_id}
    if event_type == "deal.lost":
        return {"deal_id": p.deal_id, "competitor": p.competitor}
    if event_type == "survey.answered":
        score = next((a.score for a in p.answers if a.score is not None), None)
        return {"survey_kind": p.kind, "score": score, "survey_id": p.survey_id}
    if event_type.startswith("email."):
        return {"message_id": p.message_id, "campaign_id": p.campaign_id}
    if event_type == "marketing.spend_recorded":
        return {
            "amount": p.amount,
            "currency": p.currency,
            "campaign_id": p.campaign_id,
            "spend_kind": p.kind,
            "channel": p.channel,
        }
    return {}


def fact_of(event: EventEnvelope, payload: Any) -> dict[str, Any]:
    """The fact an event becomes: its id, kind, subject (the person, or the campaign of a spend), time and values."""
    if isinstance(payload, ContactCreated):
        return {
            "_id": event.id,
            "kind": "contact_created",
            "subject": payload.contact_id,
            "at": payload.created_at,
            "source": payload.source,
        }
    subject = str(getattr(payload, "contact_id", None) or getattr(payload, "campaign_id", None) or event.subject)
    return {
        "_id": event.id,
        "kind": event.type,
        "subject": subject,
        "at": payload.occurred_at,
        **values_of(event.type, payload),
    }


async def on_batch(deliveries: list[Delivery], facts: Facts, segments: Segments | None = None) -> None:
    arrivals = [Arrival(fact_of(d.envelope, d.payload), (f"{d.topic}:{d.partition}", d.offset)) for d in deliveries]
    if segments is None:
        await facts.record_batch(arrivals)
        return
    # segment membership follows the event (campaigns are not people): decided while the batch is being written,
    # changed once it is (so a member's summary is always stored before the membership shows)
    people = {str(cid) for d in deliveries if (cid := getattr(d.payload, "contact_id", None))}
    now = utcnow()
    decided: list[Any] = []

    async def decide(touched: dict[str, Customer]) -> None:
        decided.extend(await segments.changes_for({s: c for s, c in touched.items() if s in people}, now))

    await facts.record_batch(arrivals, beside=decide)
    await segments.apply(decided, now)
