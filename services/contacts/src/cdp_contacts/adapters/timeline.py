"""The timeline: one document per interaction, `_id` = the event id, so an event is applied exactly once however
often it is delivered. `origin_contact_id` remembers whose it was, so undoing a merge gives it back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cdp_common.store import Document
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError


class Timeline:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.entries = db["timeline"]

    async def ensure_indexes(self) -> None:
        await self.entries.create_index([("contact_id", ASCENDING), ("at", DESCENDING)], name="contact_at")
        await self.entries.create_index([("origin_contact_id", ASCENDING)], name="origin")

    async def add(self, event_id: str, contact_id: str, event_type: str, at: datetime, data: dict[str, Any]) -> bool:
        """False when this event is already on the timeline."""
        try:
            await self.entries.insert_one(
                {
                    "_id": event_id,
                    "contact_id": contact_id,
                    "origin_contact_id": contact_id,
                    "type": event_type,
                    "at": at,
                    "data": data,
                }
            )
            return True
        except DuplicateKeyError:
            return False

    async def page(
        self, contact_id: str, limit: int, before: tuple[datetime, str] | None = None, types: list[str] | None = None
    ) -> list[Document]:
        flt: dict[str, Any] = {"contact_id": contact_id}
        if types:
            flt["type"] = {"$in": types}
        if before:
            at, eid = before
            flt = {"$and": [flt, {"$or": [{"at": {"$lt": at}}, {"at": at, "_id": {"$lt": eid}}]}]}
        cursor = self.entries.find(flt).sort([("at", DESCENDING), ("_id", DESCENDING)]).limit(limit)
        return [d async for d in cursor]

    async def of_types(self, contact_id: str, types: list[str]) -> list[Document]:
        cursor = self.entries.find({"contact_id": contact_id, "type": {"$in": types}}, {"type": 1, "at": 1, "data": 1})
        return [d async for d in cursor]

    async def move(self, from_contact: str, to_contact: str) -> None:
        """Merge: the absorbed contact's entries now show on the survivor (origin is kept)."""
        await self.entries.update_many({"contact_id": from_contact}, {"$set": {"contact_id": to_contact}})

    async def give_back(self, origin: str) -> None:
        """Merge undone: every entry that came with `origin` goes back to it."""
        await self.entries.update_many({"origin_contact_id": origin}, {"$set": {"contact_id": origin}})

    async def erase(self, contact_id: str) -> int:
        result = await self.entries.delete_many(
            {"$or": [{"contact_id": contact_id}, {"origin_contact_id": contact_id}]}
        )
        return result.deleted_count
