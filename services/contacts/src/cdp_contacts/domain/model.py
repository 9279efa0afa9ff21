"""The contact aggregate (the golden record). It records what happened in `events`; adapters publish them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from cdp_common.contracts.contacts import ContactCreated, EmailOut, LifecycleStage, PhoneOut, PreferredChannel
from cdp_common.events import EventEnvelope, make_event
from cdp_common.identifiers import fold

EVENT_SOURCE = "cdp/contacts"


@dataclass
class Contact:
    id: str
    full_name: str
    emails: list[EmailOut]
    phones: list[PhoneOut]
    source: str
    created_at: datetime
    updated_at: datetime
    birth_date: date | None = None
    preferred_channel: PreferredChannel | None = None
    lifecycle_stage: LifecycleStage | None = None
    version: int = 1
    events: list[EventEnvelope] = field(default_factory=list)

    @staticmethod
    def new_id() -> str:
        return uuid.uuid4().hex

    @classmethod
    def create(
        cls,
        *,
        full_name: str,
        emails: list[EmailOut],
        phones: list[PhoneOut],
        source: str,
        now: datetime,
        birth_date: date | None = None,
        preferred_channel: PreferredChannel | None = None,
        lifecycle_stage: LifecycleStage | None = None,
        contact_id: str | None = None,
        trace_id: str | None = None,
    ) -> Contact:
        emails = _one_primary(_dedupe(emails, lambda e: e.address.lower()))
        phones = _one_primary(_dedupe(phones, lambda p: p.number))
        contact = cls(
            id=contact_id or cls.new_id(),
            full_name=full_name,
            emails=emails,
            phones=phones,
            source=source,
            created_at=now,
            updated_at=now,
            birth_date=birth_date,
            preferred_channel=preferred_channel,
            lifecycle_stage=lifecycle_stage,
        )
        contact.events.append(
            make_event(
                source=EVENT_SOURCE,
                event_type="contact.created",
                subject=contact.id,
                time=now,
                traceid=trace_id,
                data=ContactCreated(
                    contact_id=contact.id,
                    full_name=full_name,
                    emails=emails,
                    phones=phones,
                    birth_date=birth_date,
                    preferred_channel=preferred_channel,
                    lifecycle_stage=lifecycle_stage,
                    source=source,
                    created_at=now,
                ),
            )
        )
        return contact

    @property
    def search_name(self) -> str:
        return fold(self.full_name)


def _dedupe(items: list[Any], key: Any) -> list[Any]:
    seen: set[str] = set()
    out = []
    for item in items:
        k = key(item)
        if k not in seen:
            seen.add(k)
            out.append(item)
    return out


def _one_primary(items: list[Any]) -> list[Any]:
    """Exactly one primary when there is any item: the first marked primary, else the first."""
    if not items:
        return items
    chosen = next((i for i, it in enumerate(items) if it.primary), 0)
    return [it.model_copy(update={"primary": i == chosen}) for i, it in enumerate(items)]
