"""Identity use cases driven by events: records from integrations, and contacts created by staff (which go
through the same matching)."""

from __future__ import annotations

from cdp_common.contracts.contacts import ContactCreated
from cdp_common.contracts.identity import SourceAttributes, SourceRecordObserved, contact_record_source
from cdp_common.events import EventEnvelope
from cdp_common.messaging import EventPublisher
from cdp_common.store import find_by_ids

from cdp_identity.adapters.graph import IdentityGraph
from cdp_identity.service_layer.matching import Decision, Observed, handle_observed_many, merge_persons


async def on_records_observed(
    records: list[tuple[EventEnvelope, SourceRecordObserved]], graph: IdentityGraph, publisher: EventPublisher
) -> None:
    """A poll of records, matched together (`handle_observed_many`)."""
    await handle_observed_many([Observed(e, o) for e, o in records], graph, publisher)


async def on_contacts_created(
    created: list[tuple[EventEnvelope, ContactCreated]], graph: IdentityGraph, publisher: EventPublisher
) -> None:
    """A contact this service caused (its id is a person id) is already known; one created by staff or an import is
    matched like any record: a new person keeps the contact's id, a match joins the existing person."""
    known = {d["_id"] async for d in find_by_ids(graph.persons, [c.contact_id for _, c in created], {"_id": 1})}
    todo = [(e, c) for e, c in created if c.contact_id not in known]
    if not todo:
        return
    decisions = await handle_observed_many(
        [Observed(e, _observation_of(c), c.contact_id) for e, c in todo], graph, publisher
    )
    for (event, c), decision in zip(todo, decisions, strict=True):
        if not decision.new_person and decision.person_id != c.contact_id:
            await _join(event, c, decision, graph, publisher)


def _observation_of(c: ContactCreated) -> SourceRecordObserved:
    return SourceRecordObserved(
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


async def _join(
    event: EventEnvelope, c: ContactCreated, decision: Decision, graph: IdentityGraph, publisher: EventPublisher
) -> None:
    """The contact's record joined an existing person: the contact's own person merges into it."""
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
