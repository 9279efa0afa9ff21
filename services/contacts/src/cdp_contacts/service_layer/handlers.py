"""Use cases of the contacts service. Entry points build the inputs and call these; rules live in `domain/`."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from cdp_common.contracts.contacts import EmailOut, LifecycleStage, PhoneOut, PreferredChannel
from cdp_common.events import utcnow
from cdp_common.messaging import EventPublisher
from cdp_common.topics import CONTACT_EVENTS

from cdp_contacts.adapters.repository import RELAY_GRACE, ContactAlreadyExists, ContactRepository
from cdp_contacts.domain.model import Contact

log = logging.getLogger("cdp.contacts")

# Namespace for contact ids derived from an Idempotency-Key, so a retried create finds its first result.
_IDEMPOTENCY_NS = uuid.UUID("6f1c7f55-8a44-4d49-9a53-0f2b6a0f6c11")


@dataclass(frozen=True)
class CreateContact:
    full_name: str
    emails: list[EmailOut]
    phones: list[PhoneOut]
    source: str
    birth_date: date | None = None
    preferred_channel: PreferredChannel | None = None
    lifecycle_stage: LifecycleStage | None = None
    idempotency_key: str | None = None
    trace_id: str | None = None


@dataclass(frozen=True)
class Created:
    contact: Contact
    replayed: bool


async def create_contact(
    cmd: CreateContact, repo: ContactRepository, publisher: EventPublisher, topic: str = CONTACT_EVENTS.name
) -> Created:
    contact_id = uuid.uuid5(_IDEMPOTENCY_NS, f"{cmd.source}:{cmd.idempotency_key}").hex if cmd.idempotency_key else None
    contact = Contact.create(
        full_name=cmd.full_name,
        emails=cmd.emails,
        phones=cmd.phones,
        source=cmd.source,
        now=utcnow(),
        birth_date=cmd.birth_date,
        preferred_channel=cmd.preferred_channel,
        lifecycle_stage=cmd.lifecycle_stage,
        contact_id=contact_id,
        trace_id=cmd.trace_id,
    )
    try:
        await repo.add(contact, topic)
    except ContactAlreadyExists:
        existing = await repo.get(contact.id)
        assert existing is not None
        await publish_pending(existing.id, repo, publisher)
        return Created(existing, replayed=True)
    await publish_pending(contact.id, repo, publisher)
    log.info("contact created", extra={"contact_id": contact.id})
    return Created(contact, replayed=False)


async def publish_pending(contact_id: str, repo: ContactRepository, publisher: EventPublisher) -> int:
    """Publish the contact's outbox in order; each entry leaves the outbox only once Kafka acknowledged it.
    If Kafka is down the entries stay and the relay retries; consumers drop the duplicates a retry may cause."""
    sent = 0
    for topic, event in await repo.pending_outbox(contact_id):
        try:
            await publisher.publish(topic, event)
        except Exception:
            log.warning("publish failed; the outbox relay will retry", extra={"contact_id": contact_id})
            return sent
        await repo.mark_published(contact_id, event.id)
        sent += 1
    return sent


async def relay_outbox_once(repo: ContactRepository, publisher: EventPublisher, grace: timedelta = RELAY_GRACE) -> int:
    """Publish what requests left behind (Kafka was down, or the process died between write and publish). Entries
    younger than `grace` are left to the request that wrote them."""
    sent = 0
    for contact_id in await repo.contacts_with_pending_events(utcnow() - grace):
        sent += await publish_pending(contact_id, repo, publisher)
    return sent


async def get_contact(contact_id: str, repo: ContactRepository) -> Contact | None:
    return await repo.get(contact_id)
