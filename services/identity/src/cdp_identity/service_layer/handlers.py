"""Identity use cases driven by events: records from integrations, and contacts created by staff (which go
through the same matching)."""

from __future__ import annotations

from cdp_common.contracts.contacts import ContactCreated
from cdp_common.contracts.identity import SourceAttributes, SourceRecordObserved, contact_record_source
from cdp_common.events import EventEnvelope
from cdp_common.messaging import EventPublisher

from cdp_identity.adapters.graph import IdentityGraph
from cdp_identity.service_layer.matching import handle_observed, merge_persons


async def on_record_observed(
    event: EventEnvelope, o: SourceRecordObserved, graph: IdentityGraph, publisher: EventPublisher
) -> None:
    await handle_observed(event, o, graph, publisher)


async def on_contact_created(
    event: EventEnvelope, c: ContactCreated, graph: IdentityGraph, publisher: EventPublisher
) -> None:
    """A contact this service caused (its id is a person id) is already known; one created by staff or an import is
    matched like any record: a new person keeps the contact's id, a match joins the existing person."""
    if await graph.person(c.contact_id) is not None:
        return
    observation = SourceRecordObserved(
        source=contact_record_source(c.source),
        record_id=c.contact_id,
        observed_at=c.created_at,
        verified_emails=[e.address for e in c.emails if e.verified],
        verified_phones=[p.number for p in c.phones if p.verified],
        attributes=SourceAttributes(
            full_name=c.full_name or None,
            birth_date=c.birth_date,
            emails=[e.address for e in c.emails],
            phones=[p.number for p in c.phones],
        ),
    )
    decision = await handle_observed(event, observation, graph, publisher, new_person_id=c.contact_id)
    if not decision.new_person and decision.person_id != c.contact_id:
        await graph.persons.update_one({"_id": c.contact_id}, {"$setOnInsert": {"records": []}}, upsert=True)
        evidence = [e.__dict__ for e in decision.score.evidence] if decision.score else []
        await merge_persons(
            decision.person_id,
            c.contact_id,
            f"auto:{decision.score.rule if decision.score else 'claim'}",
            graph,
            publisher,
            merge_id=f"auto-{event.id}",
            evidence=evidence,
        )
