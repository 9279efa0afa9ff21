"""Analytics use cases. Foundation slice: new contacts are counted per day (the input of lead and acquisition KPIs)."""

from __future__ import annotations

from cdp_common.contracts.contacts import ContactCreated
from cdp_common.events import EventEnvelope

from cdp_analytics.adapters.facts import Facts


async def on_contact_created(event: EventEnvelope, payload: ContactCreated, facts: Facts) -> None:
    await facts.record(event.id, "contact_created", payload.contact_id, payload.created_at, source=payload.source)
