"""Identity use cases. Foundation slice: a contact created by staff becomes a source record of its own person
(staff entries take part in matching like any channel's records once matching lands)."""

from __future__ import annotations

from cdp_common.contracts.contacts import ContactCreated
from cdp_common.events import EventEnvelope

from cdp_identity.adapters.graph import IdentityGraph


async def on_contact_created(event: EventEnvelope, payload: ContactCreated, graph: IdentityGraph) -> None:
    identifiers = [f"email:{e.address.lower()}" for e in payload.emails] + [f"phone:{p.number}" for p in payload.phones]
    await graph.link_record(
        source=f"contacts:{payload.source}",
        record_id=payload.contact_id,
        person_id=payload.contact_id,
        identifiers=identifiers,
        attributes={
            "full_name": payload.full_name,
            "birth_date": payload.birth_date.isoformat() if payload.birth_date else None,
        },
        observed_at=payload.created_at,
        rule="golden-record",
        event_id=event.id,
    )
