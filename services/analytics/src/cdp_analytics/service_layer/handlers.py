"""Analytics use cases: every event that feeds a KPI becomes one fact keyed by its event id (a redelivery or a
replay adds nothing), and KPIs are computed from the facts of a period and the one before it."""

from __future__ import annotations

from typing import Any

from cdp_common.contracts.contacts import ContactCreated
from cdp_common.events import EventEnvelope, utcnow

from cdp_analytics.adapters.facts import Facts
from cdp_analytics.service_layer.segments import Segments


async def on_contact_created(
    event: EventEnvelope, payload: ContactCreated, facts: Facts, segments: Segments | None = None
) -> None:
    await facts.record(event.id, "contact_created", payload.contact_id, payload.created_at, source=payload.source)
    if segments is not None:
        await segments.refresh_subject(facts, payload.contact_id, utcnow())


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


async def on_interaction(event: EventEnvelope, payload: Any, facts: Facts, segments: Segments | None = None) -> None:
    subject = str(getattr(payload, "contact_id", None) or getattr(payload, "campaign_id", None) or event.subject)
    await facts.record(event.id, event.type, subject, payload.occurred_at, **values_of(event.type, payload))
    if segments is not None and getattr(payload, "contact_id", None):  # segment membership follows the event
        await segments.refresh_subject(facts, subject, utcnow())
