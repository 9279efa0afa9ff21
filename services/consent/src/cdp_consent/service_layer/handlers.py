"""Consent use cases. Foundation slice: every new contact becomes a consent subject with the channels it can be
reached on, and no permission yet: absence of a statement is never consent."""

from __future__ import annotations

from cdp_common.contracts.contacts import ContactCreated
from cdp_common.events import EventEnvelope

from cdp_consent.adapters.subjects import ConsentSubjects


async def on_contact_created(event: EventEnvelope, payload: ContactCreated, subjects: ConsentSubjects) -> None:
    channels = (["email"] if payload.emails else []) + (["sms", "phone"] if payload.phones else [])
    await subjects.register(payload.contact_id, channels, payload.preferred_channel, payload.created_at)
