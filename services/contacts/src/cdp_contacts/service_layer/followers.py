"""How the contacts service follows the other services' decisions, from their events: identity says who is who
(records linked, persons merged, merges undone), consent and analytics feed the read models of the 360° view."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from cdp_common.contracts.analytics import ScoresUpdated, SegmentMembership
from cdp_common.contracts.consent import ConsentChanged
from cdp_common.contracts.identity import CONTACT_RECORD_PREFIX, MergeUndone, PersonsMerged, RecordLinked
from cdp_common.events import EventEnvelope, utcnow
from cdp_common.identifiers import normalise_email, normalise_name, normalise_phone
from cdp_common.store import find_by_ids

from cdp_contacts.domain.model import Contact
from cdp_contacts.service_layer.handlers import ConcurrentChange, Deps, mutate, publish_pending

log = logging.getLogger("cdp.contacts.followers")


def attribute_values(payload: RecordLinked) -> dict[str, Any]:
    """A source record's attributes as candidate values; a value that does not normalise is left out (the record
    stays linked; the bad value is not worth a dead letter)."""
    a = payload.attributes
    out: dict[str, Any] = {}
    if a.full_name:
        try:
            out["full_name"] = normalise_name(a.full_name)
        except ValueError:
            pass
    if a.birth_date:
        out["birth_date"] = a.birth_date.isoformat()
    if a.gender:
        out["gender"] = a.gender
    if a.preferred_channel in ("email", "sms", "phone", "zalo", "messenger", "post", "push"):
        out["preferred_channel"] = a.preferred_channel
    emails = []
    for raw in a.emails:
        try:
            emails.append({"address": normalise_email(raw), "type": "personal", "verified": False, "primary": False})
        except ValueError:
            continue
    phones = []
    for raw in a.phones:
        try:
            phones.append({"number": normalise_phone(raw), "type": "mobile", "verified": False, "primary": False})
        except ValueError:
            continue
    if emails:
        out["emails"] = emails
    if phones:
        out["phones"] = phones
    return out


async def on_record_linked(event: EventEnvelope, payload: RecordLinked, deps: Deps) -> None:
    if await deps.repo.contacts.database["erased"].find_one({"_id": payload.person_id}) is not None:
        return
    values = attribute_values(payload)
    policy = await deps.config.policy()
    now = utcnow()

    async def change(c: Contact) -> None:
        if values:
            c.contribute(
                values,
                source=payload.source,
                observed_at=payload.observed_at,
                staff=False,
                policy=policy,
                now=now,
                trace_id=event.traceid,
            )

    def new_profile() -> Contact:
        return Contact.create(
            values=values or {"full_name": ""},
            source=payload.source,
            now=now,
            policy=policy,
            staff=False,
            contact_id=payload.person_id,
            trace_id=event.traceid,
            observed_at=payload.observed_at,
        )

    # A contact of ours, echoed back as a record: its values already are its candidates (and move with merges),
    # so only the link is noted; the profile does not change.
    if payload.source.startswith(CONTACT_RECORD_PREFIX):
        contact_id = payload.person_id
    else:
        contact, _ = await mutate(payload.person_id, change, deps, create_missing=new_profile)
        contact_id = contact.id
    await deps.views.put(*_link_view(contact_id, payload))


def _link_view(contact_id: str, payload: RecordLinked) -> tuple[str, str, str, dict[str, Any], datetime]:
    """The identity link as the 360° view keeps it."""
    return (
        contact_id,
        "identity",
        f"{payload.source}:{payload.record_id}",
        {
            "source": payload.source,
            "record_id": payload.record_id,
            "rule": payload.rule,
            "score": payload.score,
            "rule_version": payload.rule_version,
        },
        payload.observed_at,
    )


async def on_identity_decisions(items: list[tuple[EventEnvelope, Any]], deps: Deps) -> None:
    """A poll of identity decisions, in order. The links of this service's own contacts echoed back as records
    (one per contact created or imported) only add to the 360° view: a run of them is noted in two round trips.
    Every other decision is applied on its own, after the echoes before it."""
    echoes: list[RecordLinked] = []

    async def note_echoes() -> None:
        if not echoes:
            return
        erased = {
            d["_id"] async for d in find_by_ids(deps.repo.contacts.database["erased"], [p.person_id for p in echoes])
        }
        await deps.views.put_many([_link_view(p.person_id, p) for p in echoes if p.person_id not in erased])
        echoes.clear()

    for event, payload in items:
        if isinstance(payload, RecordLinked) and payload.source.startswith(CONTACT_RECORD_PREFIX):
            echoes.append(payload)
            continue
        await note_echoes()
        if isinstance(payload, RecordLinked):
            await on_record_linked(event, payload, deps)
        elif isinstance(payload, PersonsMerged):
            await on_persons_merged(event, payload, deps)
        elif isinstance(payload, MergeUndone):
            await on_merge_undone(event, payload, deps)
    await note_echoes()


async def on_persons_merged(event: EventEnvelope, payload: PersonsMerged, deps: Deps) -> None:
    """Each step is idempotent, so a redelivery after a crash between steps finishes the job."""
    merged = await deps.repo.get(payload.merged_id)
    if merged is None:
        log.info("merge of an unknown contact; nothing to absorb", extra={"merge_id": payload.merge_id})
        return
    policy = await deps.config.policy()
    now = utcnow()

    async def absorb(c: Contact) -> None:
        c.absorb(merged, merge_id=payload.merge_id, policy=policy, now=now)

    def empty_survivor() -> Contact:
        return Contact(id=payload.survivor_id, source="identity", created_at=now, updated_at=now)

    await mutate(payload.survivor_id, absorb, deps, create_missing=empty_survivor)
    await _set_status(payload.merged_id, "merged", payload.survivor_id, deps)
    await deps.timeline.move(payload.merged_id, payload.survivor_id)
    await _refresh_figures(payload.survivor_id, deps)


async def on_merge_undone(event: EventEnvelope, payload: MergeUndone, deps: Deps) -> None:
    policy = await deps.config.policy()
    now = utcnow()

    async def release(c: Contact) -> None:
        c.release(payload.merge_id, policy=policy, now=now)

    survivor = await deps.repo.get(payload.survivor_id)
    if survivor is not None:
        await mutate(payload.survivor_id, release, deps)
    await _set_status(payload.restored_id, "active", None, deps)
    await deps.timeline.give_back(payload.restored_id, payload.survivor_id)
    await _refresh_figures(payload.survivor_id, deps)
    await _refresh_figures(payload.restored_id, deps)


async def _set_status(contact_id: str, status: str, merged_into: str | None, deps: Deps) -> None:
    for _ in range(8):
        c = await deps.repo.get(contact_id)
        if c is None or (c.status, c.merged_into) == (status, merged_into):
            return
        c.status, c.merged_into, c.updated_at = status, merged_into, utcnow()
        try:
            await deps.repo.save(c, deps.topic)
            return
        except ConcurrentChange:
            continue
    raise ConcurrentChange(contact_id)


async def _refresh_figures(contact_id: str, deps: Deps) -> None:
    contact = await deps.repo.get(contact_id)
    if contact is None:
        return
    entries = await deps.timeline.all_of(contact_id)
    now = utcnow()

    async def change(c: Contact) -> None:
        c.count_timeline(entries, now)

    if contact.status == "active":
        await mutate(contact_id, change, deps)
    await publish_pending(contact_id, deps)


async def on_consent_changed(event: EventEnvelope, payload: ConsentChanged, deps: Deps) -> None:
    await deps.views.put(
        payload.person_id,
        "consent",
        f"{payload.channel}:{payload.purpose}",
        {
            "channel": payload.channel,
            "purpose": payload.purpose,
            "status": payload.status,
            "decided_by_statement_id": payload.decided_by_statement_id,
            "reason": payload.reason,
        },
        payload.changed_at,
    )
    if payload.purpose == "newsletter" and payload.status == "granted":
        stage = deps.lifecycle.stage_for("consent.newsletter_granted", payload, 0)
        if stage and await deps.repo.get(payload.person_id) is not None:

            async def change(c: Contact) -> None:
                c.advance_lifecycle(stage, cause_type=event.type, cause_event_id=event.id, now=utcnow())

            await mutate(payload.person_id, change, deps)


async def on_scores_updated(event: EventEnvelope, payload: ScoresUpdated, deps: Deps) -> None:
    await deps.views.put(
        payload.contact_id,
        "scores",
        "latest",
        payload.model_dump(mode="json", exclude={"contact_id"}),
        payload.computed_at,
    )


async def on_segment(event: EventEnvelope, payload: SegmentMembership, deps: Deps) -> None:
    await deps.views.put(
        payload.contact_id,
        "segments",
        payload.segment_id,
        {"name": payload.segment_name, "member": event.type == "segment.entered"},
        payload.at,
    )
