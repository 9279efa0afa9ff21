"""Contacts in the service's own database. One contact = one document; the events it recorded wait in the same
document (`outbox`) until Kafka acknowledged them, so a crash between the write and the publish loses nothing
without needing a multi-document transaction."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from cdp_common.contracts.contacts import EmailOut, PhoneOut
from cdp_common.events import EventEnvelope
from cdp_common.store import Document
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from cdp_contacts.domain.model import Contact


class ContactAlreadyExists(Exception):
    def __init__(self, contact_id: str) -> None:
        super().__init__(contact_id)
        self.contact_id = contact_id


class ContactRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.contacts = db["contacts"]

    async def ensure_indexes(self) -> None:
        await self.contacts.create_index([("search_name", ASCENDING)], name="search_name")
        await self.contacts.create_index([("email_keys", ASCENDING)], name="email_keys")
        await self.contacts.create_index([("phone_keys", ASCENDING)], name="phone_keys")
        await self.contacts.create_index([("outbox_pending", ASCENDING)], name="outbox_pending")

    async def add(self, contact: Contact, topic: str) -> None:
        """Insert the contact with its recorded events. Raises `ContactAlreadyExists` for a known id."""
        doc = to_document(contact)
        doc["outbox"] = [{"topic": topic, "event": e.model_dump(mode="json")} for e in contact.events]
        doc["outbox_pending"] = bool(doc["outbox"])
        try:
            await self.contacts.insert_one(doc)
        except DuplicateKeyError:
            raise ContactAlreadyExists(contact.id) from None

    async def get(self, contact_id: str) -> Contact | None:
        doc = await self.contacts.find_one({"_id": contact_id}, {"outbox": 0})
        return from_document(doc) if doc else None

    async def pending_outbox(self, contact_id: str) -> list[tuple[str, EventEnvelope]]:
        doc = await self.contacts.find_one({"_id": contact_id}, {"outbox": 1})
        return _outbox_entries(doc)

    async def mark_published(self, contact_id: str, event_id: str) -> None:
        await self.contacts.update_one({"_id": contact_id}, {"$pull": {"outbox": {"event.id": event_id}}})
        await self.contacts.update_one({"_id": contact_id, "outbox": {"$size": 0}}, {"$set": {"outbox_pending": False}})

    async def contacts_with_pending_events(self, older_than: datetime, limit: int = 100) -> list[str]:
        cursor = self.contacts.find({"outbox_pending": True, "updated_at": {"$lt": older_than}}, {"_id": 1}).limit(
            limit
        )
        return [d["_id"] async for d in cursor]


def _outbox_entries(doc: Document | None) -> list[tuple[str, EventEnvelope]]:
    if not doc:
        return []
    return [(e["topic"], EventEnvelope.model_validate(e["event"])) for e in doc.get("outbox", [])]


def to_document(c: Contact) -> Document:
    return {
        "_id": c.id,
        "full_name": c.full_name,
        "search_name": c.search_name,
        "emails": [e.model_dump() for e in c.emails],
        "phones": [p.model_dump() for p in c.phones],
        "email_keys": [e.address.lower() for e in c.emails],
        "phone_keys": [p.number for p in c.phones],
        # BSON has no date type; an ISO date string sorts and compares correctly.
        "birth_date": c.birth_date.isoformat() if c.birth_date else None,
        "preferred_channel": c.preferred_channel,
        "lifecycle_stage": c.lifecycle_stage,
        "source": c.source,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "version": c.version,
    }


def from_document(d: Document) -> Contact:
    bd: Any = d.get("birth_date")
    return Contact(
        id=d["_id"],
        full_name=d["full_name"],
        emails=[EmailOut.model_validate(e) for e in d.get("emails", [])],
        phones=[PhoneOut.model_validate(p) for p in d.get("phones", [])],
        source=d["source"],
        created_at=d["created_at"],
        updated_at=d["updated_at"],
        birth_date=date.fromisoformat(bd) if bd else None,
        preferred_channel=d.get("preferred_channel"),
        lifecycle_stage=d.get("lifecycle_stage"),
        version=d.get("version", 1),
    )


RELAY_GRACE = timedelta(seconds=5)
