"""Use cases of the contacts service. Entry points build the inputs and call these; rules live in `domain/`."""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from cdp_common.events import EventEnvelope, utcnow
from cdp_common.messaging import EventPublisher
from cdp_common.topics import CONTACT_EVENTS

from cdp_contacts.adapters.read_models import ReadModels
from cdp_contacts.adapters.repository import (
    ConcurrentChange,
    ContactAlreadyExists,
    ContactRepository,
    Written,
    identifier_keys,
)

__all__ = ["ConcurrentChange", "Deps", "mutate", "publish_pending"]
from cdp_contacts.adapters.settings_store import ConfigStore
from cdp_contacts.adapters.timeline import Timeline
from cdp_contacts.domain.custom_fields import validate_values
from cdp_contacts.domain.lifecycle import LifecycleRules
from cdp_contacts.domain.model import Contact

log = logging.getLogger("cdp.contacts")

# Namespace for contact ids derived from an Idempotency-Key, so a retried create finds its first result.
_IDEMPOTENCY_NS = uuid.UUID("6f1c7f55-8a44-4d49-9a53-0f2b6a0f6c11")
RELAY_GRACE = timedelta(seconds=5)
T = TypeVar("T")


class InvalidInput(Exception):
    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(e["field"] for e in errors))
        self.errors = errors


class ContactNotFound(Exception):
    pass


@dataclass
class Deps:
    repo: ContactRepository
    timeline: Timeline
    config: ConfigStore
    views: ReadModels
    publisher: EventPublisher
    lifecycle: LifecycleRules = field(default_factory=LifecycleRules)
    topic: str = CONTACT_EVENTS.name


@dataclass(frozen=True)
class CreateContact:
    values: dict[str, Any]
    source: str
    staff: bool = True
    by: str = "staff"
    tags: list[str] = field(default_factory=list)
    owner: str | None = None
    custom_fields: dict[str, Any] = field(default_factory=dict)
    lifecycle_stage: str | None = None
    lead_status: str | None = None
    idempotency_key: str | None = None
    trace_id: str | None = None
    observed_at: datetime | None = None


@dataclass(frozen=True)
class Created:
    contact: Contact
    replayed: bool
    likely_duplicates: list[Contact] = field(default_factory=list)


async def create_contact(cmd: CreateContact, deps: Deps) -> Created:
    custom = await _valid_custom(cmd.custom_fields, deps)
    contact_id = uuid.uuid5(_IDEMPOTENCY_NS, f"{cmd.source}:{cmd.idempotency_key}").hex if cmd.idempotency_key else None
    now = utcnow()
    policy = await deps.config.policy()
    contact = Contact.create(
        values=cmd.values,
        source=cmd.source,
        now=now,
        policy=policy,
        staff=cmd.staff,
        contact_id=contact_id,
        trace_id=cmd.trace_id,
        observed_at=cmd.observed_at,
    )
    contact.organise(
        now=now,
        tags=cmd.tags or None,
        owner=cmd.owner,
        owner_given=cmd.owner is not None,
        custom_fields=custom,
        trace_id=cmd.trace_id,
    )
    if cmd.lifecycle_stage:
        contact.set_lifecycle(cmd.lifecycle_stage, by=cmd.by, reason="set at creation", now=now, trace_id=cmd.trace_id)
    if cmd.lead_status:
        contact.set_lead_status(cmd.lead_status, by=cmd.by, note=None, now=now, trace_id=cmd.trace_id)
    duplicates = await deps.repo.likely_duplicates(contact)
    try:
        written = await deps.repo.add(contact, deps.topic)
    except ContactAlreadyExists:
        existing = await deps.repo.get(contact.id)
        assert existing is not None
        await publish_pending(existing.id, deps)
        return Created(existing, replayed=True)
    await publish_pending(contact.id, deps, written)
    log.info("contact created", extra={"contact_id": contact.id, "likely_duplicates": len(duplicates)})
    return Created(contact, replayed=False, likely_duplicates=duplicates)


async def mutate(
    contact_id: str,
    change: Callable[[Contact], Awaitable[T]],
    deps: Deps,
    *,
    create_missing: Callable[[], Contact] | None = None,
    loaded: Contact | None = None,
) -> tuple[Contact, T]:
    """Load, change, save atomically with the recorded events; on a concurrent change, reload and apply again
    (with a growing random pause, so many writers of one hot contact all get through). `loaded`: the contact as the
    caller just read it, used for the first attempt."""
    for attempt in range(50):
        contact = loaded if attempt == 0 and loaded is not None else await deps.repo.get(contact_id)
        if contact is not None and contact.status == "merged" and contact.merged_into:
            contact_id = contact.merged_into
            loaded = None
            continue
        fresh = contact is None
        if contact is None:
            if create_missing is None:
                raise ContactNotFound(contact_id)
            contact = create_missing()
        keys_before = set(identifier_keys(contact))
        result = await change(contact)
        try:
            if fresh:
                written = await deps.repo.add(contact, deps.topic)
            else:
                reindex = set(identifier_keys(contact)) != keys_before
                written = await deps.repo.save(contact, deps.topic, reindex=reindex)
        except (ConcurrentChange, ContactAlreadyExists):
            await asyncio.sleep(random.uniform(0, 0.005 * min(attempt, 20)))  # noqa: S311 (jitter, not security)
            continue
        await publish_pending(contact.id, deps, written)
        return contact, result
    raise ConcurrentChange(contact_id)


async def update_contact(
    contact_id: str,
    values: dict[str, Any],
    *,
    source: str,
    staff: bool,
    deps: Deps,
    tags: list[str] | None = None,
    owner: str | None = None,
    owner_given: bool = False,
    custom_fields: dict[str, Any] | None = None,
    trace_id: str | None = None,
) -> Contact:
    custom = await _valid_custom(custom_fields or {}, deps, partial=True)
    policy = await deps.config.policy()

    async def change(c: Contact) -> None:
        now = utcnow()
        if values:
            c.contribute(values, source=source, observed_at=now, staff=staff, policy=policy, now=now, trace_id=trace_id)
        c.organise(now=now, tags=tags, owner=owner, owner_given=owner_given, custom_fields=custom, trace_id=trace_id)

    contact, _ = await mutate(contact_id, change, deps)
    return contact


async def set_lifecycle(
    contact_id: str, stage: str, *, by: str, reason: str, deps: Deps, trace_id: str | None = None
) -> Contact:
    async def change(c: Contact) -> None:
        c.set_lifecycle(stage, by=by, reason=reason, now=utcnow(), trace_id=trace_id)

    contact, _ = await mutate(contact_id, change, deps)
    return contact


async def set_lead_status(
    contact_id: str, status: str, *, by: str, note: str | None, deps: Deps, trace_id: str | None = None
) -> Contact:
    async def change(c: Contact) -> None:
        c.set_lead_status(status, by=by, note=note, now=utcnow(), trace_id=trace_id)

    contact, _ = await mutate(contact_id, change, deps)
    return contact


async def get_contact(contact_id: str, deps: Deps) -> Contact | None:
    """Follows a merge: asking for an absorbed contact answers with its survivor."""
    for _ in range(5):
        contact = await deps.repo.get(contact_id)
        if contact is None or contact.status != "merged" or not contact.merged_into:
            return contact
        contact_id = contact.merged_into
    return None


# ----------------------------------------------------------------------------------------- interactions
async def apply_interaction(event: EventEnvelope, payload: Any, deps: Deps) -> None:
    """One interaction (`apply_interactions` of one)."""
    await apply_interactions([(event, payload)], deps)


async def apply_interactions(items: list[tuple[EventEnvelope, Any]], deps: Deps, concurrency: int = 32) -> None:
    """A consumer batch of interactions, each person's events together and in their order. The people whose profile
    exists are applied all at once, in a few round trips whatever their number (read, timeline, figures, one
    conditional write, one publish); the others (new, merged, or changed by someone else meanwhile) one person at a
    time, up to `concurrency` at once. If any person fails the call raises after the others are done, and the
    whole batch is delivered again, which every step absorbs: the timeline is keyed by event id, figures are
    recomputed from it, the lifecycle only moves forward."""
    by_person: dict[str, list[tuple[EventEnvelope, Any]]] = {}
    for event, payload in items:
        by_person.setdefault(payload.contact_id, []).append((event, payload))
    rest = await _apply_together(by_person, deps)
    gate = asyncio.Semaphore(concurrency)

    async def one(contact_id: str) -> None:
        async with gate:
            await _apply_to_person(contact_id, by_person[contact_id], deps)

    results = await asyncio.gather(*(one(c) for c in rest), return_exceptions=True)
    failed = [r for r in results if isinstance(r, BaseException)]
    if failed:
        raise failed[0]


def _entries(events: list[tuple[EventEnvelope, Any]]) -> list[tuple[str, str, datetime, dict[str, Any]]]:
    return [(e.id, e.type, p.occurred_at, p.model_dump(mode="json")) for e, p in events]


def _fold(c: Contact, events: list[tuple[EventEnvelope, Any]], new: list[bool], deps: Deps, now: datetime) -> None:
    """A person's interactions (already in their figures) into survey answers and lifecycle. `new`: per event,
    whether it was new to the profile (each order.paid counts the purchases there were when it arrived)."""
    purchases = int((c.quantitative or {}).get("purchases", 0))
    later = sum(1 for (e, _), fresh in zip(events, new, strict=True) if fresh and e.type == "order.paid")
    for (event, payload), fresh in zip(events, new, strict=True):
        if fresh and event.type == "order.paid":
            later -= 1
        if event.type == "survey.answered":
            c.record_survey_answers(
                [
                    {
                        "survey_id": payload.survey_id,
                        "question_id": a.question_id,
                        "question": a.question,
                        "answer": a.answer,
                        "score": a.score,
                        "answered_at": payload.occurred_at,
                    }
                    for a in payload.answers
                ]
            )
        stage = deps.lifecycle.stage_for(event.type, payload, max(0, purchases - later))
        if stage:
            c.advance_lifecycle(stage, cause_type=event.type, cause_event_id=event.id, now=now)
    c.updated_at = now


async def _apply_together(by_person: dict[str, list[tuple[EventEnvelope, Any]]], deps: Deps) -> list[str]:
    """The people with a profile of their own, at once; returns the others (for `_apply_to_person`)."""
    loaded = {
        cid: found
        for cid, found in (await deps.repo.load_for_update(list(by_person))).items()
        if found[0].status != "merged"
    }
    if not loaded:
        return list(by_person)
    # profiles stored before figure bases existed are counted from their whole timeline, once
    legacy = [cid for cid, (c, _) in loaded.items() if c.figures_basis is None]
    items = {cid: _entries(by_person[cid]) for cid in loaded}
    added = await deps.timeline.add_for_many(items, listings=legacy)
    entries = await deps.timeline.entries_of_many({cid: added[cid][0] for cid in legacy}) if legacy else {}
    now = utcnow()
    for cid, (contact, _) in loaded.items():
        if cid in added:
            contact.count_timeline(entries[cid], now)
            new = added[cid][1]
        else:
            new = contact.take_interactions(items[cid], now)
        _fold(contact, by_person[cid], new, deps, now)
    outboxes = {cid: outbox for cid, (_, outbox) in loaded.items()}
    written, saved = await deps.repo.save_many([c for c, _ in loaded.values()], outboxes, deps.topic)
    rest = [cid for cid in by_person if cid not in saved]
    if written.outbox:
        try:
            await deps.publisher.publish_many(written.outbox)
        except Exception:  # the work markers stay: the relay publishes what is left
            log.warning("publish failed; the outbox relay will retry", extra={"contacts": len(saved)})
            return rest
    await deps.repo.mark_many_published(saved, written.token)
    return rest


async def _apply_to_person(contact_id: str, events: list[tuple[EventEnvelope, Any]], deps: Deps) -> None:
    """One person's interactions, reading and writing their profile on its own (a new or merged person, or one
    changed by another writer while the batch was applied)."""
    contact = await get_contact(contact_id, deps)
    # An erasure leaves a tombstone before it deletes the profile, so only a missing profile needs the check.
    if contact is None and await deps.repo.contacts.database["erased"].find_one({"_id": contact_id}):
        return  # the person asked to be erased: nothing about them is kept again
    # An interaction for a person not seen yet starts a minimal profile, so nothing is dropped.
    contact_id = contact_id if contact is None else contact.id
    items = _entries(events)
    listed, listed_new = await deps.timeline.add(contact_id, items)
    now = utcnow()

    async def change(c: Contact) -> None:
        if c.figures_basis is None:  # stored before figure bases existed: counted from the whole timeline, once
            c.count_timeline(await deps.timeline.entries_of(contact_id, listed), now)
            new = listed_new
        else:
            new = c.take_interactions(items, now)
        _fold(c, events, new, deps, now)

    def new_profile() -> Contact:
        channel = next((p.channel for _, p in events if p.channel), None)
        return Contact(id=contact_id, source=channel or "interactions", created_at=now, updated_at=now)

    await mutate(contact_id, change, deps, create_missing=new_profile, loaded=contact)


# ----------------------------------------------------------------------------------------------- outbox
async def publish_pending(contact_id: str, deps: Deps, written: Written | None = None) -> int:
    """Publish the contact's outbox in order; entries leave it only once Kafka acknowledged them. If Kafka is down
    the entries stay and the relay retries; consumers drop the duplicates a retry may cause. `written` is what the
    write just made returned (its marker's token and the outbox), which spares reading both back."""
    if written is None:
        token = await deps.repo.work_token(contact_id)  # read before the outbox: a newer marker must survive
        written = await deps.repo.read_outbox(contact_id)
    else:
        token = written.token
    pending = written.outbox
    empty = True
    if pending:
        try:
            await deps.publisher.publish_many(pending)
        except Exception:
            log.warning("publish failed; the outbox relay will retry", extra={"contact_id": contact_id})
            return 0
        empty = await deps.repo.mark_published(contact_id, written.stored)
    if empty and token is not None:
        await deps.repo.finish_work(contact_id, token)
    return len(pending)


async def relay_outbox_once(deps: Deps, grace: timedelta = RELAY_GRACE) -> int:
    """Publish what requests left behind (Kafka was down, or the process died between the write and the publish),
    then drop the work marker. Contacts changed within `grace` are left to the request still handling them."""
    sent = 0
    for token in await deps.repo.batches_left(before=utcnow() - grace):
        pending = await deps.repo.batch_outbox(token)
        try:
            await deps.publisher.publish_many(pending)
        except Exception:
            log.warning("publish failed; the outbox relay will retry", extra={"batch": token})
            return sent
        await deps.repo.batch_published(token)
        sent += len(pending)
    for contact_id in await deps.repo.contacts_with_work():
        contact = await deps.repo.get(contact_id)
        if contact is not None and contact.updated_at > utcnow() - grace:
            continue
        sent += await publish_pending(contact_id, deps)
    return sent


async def _valid_custom(values: dict[str, Any], deps: Deps, partial: bool = False) -> dict[str, Any]:
    if not values:
        return {}
    definitions = await deps.config.custom_fields()
    clean, errors = validate_values(values, definitions)
    if errors:
        raise InvalidInput(errors)
    return clean
