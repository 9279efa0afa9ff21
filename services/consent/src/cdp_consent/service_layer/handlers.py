"""Consent use cases. Foundation slice: every new contact becomes a consent subject with the channels it can be
reached on, and no permission yet: absence of a statement is never consent."""

from __future__ import annotations

from cdp_common.contracts.contacts import ContactCreated

from cdp_consent.adapters.subjects import ConsentSubjects


async def on_contacts_created(created: list[ContactCreated], subjects: ConsentSubjects) -> None:
    """A poll of new contacts registered in one write (registering is idempotent: a replay changes nothing)."""
    await subjects.register_many(
        [
            (
                c.contact_id,
                (["email"] if c.emails else []) + (["sms", "phone"] if c.phones else []),
                c.preferred_channel,
                c.created_at,
            )
            for c in created
        ]
    )
