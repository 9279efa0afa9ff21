"""The timeline: one document per interaction, `_id` = "<contact id>|<inverted time>|<event id>". One contact's
entries are one `_id` range, newest first (no secondary index needed), and the same event always lands on the same
`_id`: it is applied exactly once however often it is delivered. `origin_contact_id` remembers whose it was, so
undoing a merge gives it back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cdp_common.store import Document
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

SEP = "|"
_END = "\U0010ffff"


def inverted_millis(ms: int) -> str:
    """Ascending text order = newest first."""
    return f"{10**14 - ms:014d}"


def entry_id(contact_id: str, at: datetime, event_id: str) -> str:
    return f"{contact_id}{SEP}{inverted_millis(int(at.timestamp() * 1000))}{SEP}{event_id}"


class Timeline:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.entries = db["timeline"]

    async def ensure_indexes(self) -> None:
        """Nothing to declare: entries are read by `_id` range."""

    async def add(self, event_id: str, contact_id: str, event_type: str, at: datetime, data: dict[str, Any]) -> bool:
        """False when this event is already on the timeline."""
        try:
            await self.entries.insert_one(
                {
                    "_id": entry_id(contact_id, at, event_id),
                    "event_id": event_id,
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

    def _range(self, contact_id: str, after: str | None = None) -> dict[str, Any]:
        bound: dict[str, str] = {"$lt": contact_id + SEP + _END}
        if after:
            bound["$gt"] = after
        else:
            bound["$gt"] = contact_id + SEP
        return {"_id": bound}

    async def page(
        self, contact_id: str, limit: int, after: str | None = None, types: list[str] | None = None
    ) -> list[Document]:
        """Newest first; `after` is the `_id` of the last entry of the previous page."""
        out: list[Document] = []
        cursor = self.entries.find(self._range(contact_id, after)).sort("_id", 1)
        async for d in cursor:
            if types and d["type"] not in types:
                continue
            out.append(d)
            if len(out) >= limit:
                break
        return out

    async def all_of(self, contact_id: str) -> list[Document]:
        return [d async for d in self.entries.find(self._range(contact_id)).sort("_id", 1)]

    async def of_types(self, contact_id: str, types: list[str]) -> list[Document]:
        return [d for d in await self.all_of(contact_id) if d["type"] in types]

    async def _rekey(self, docs: list[Document], to_contact: str) -> None:
        if not docs:
            return
        moved = [{**d, "_id": entry_id(to_contact, d["at"], d["event_id"]), "contact_id": to_contact} for d in docs]
        try:
            await self.entries.insert_many(moved, ordered=False)
        except BulkWriteError as e:  # already moved by an earlier, interrupted attempt
            if any(err.get("code") != 11000 for err in e.details.get("writeErrors", [])):
                raise
        await self.entries.delete_many({"_id": {"$in": [d["_id"] for d in docs]}})

    async def move(self, from_contact: str, to_contact: str) -> None:
        """Merge: the absorbed contact's entries show on the survivor (their origin is kept)."""
        await self._rekey(await self.all_of(from_contact), to_contact)

    async def give_back(self, origin: str, holder: str) -> None:
        """Merge undone: every entry that came with `origin` goes back to it from `holder`."""
        await self._rekey([d for d in await self.all_of(holder) if d["origin_contact_id"] == origin], origin)

    async def erase(self, contact_id: str) -> int:
        ids = [d["_id"] for d in await self.all_of(contact_id)]
        if ids:
            await self.entries.delete_many({"_id": {"$in": ids}})
        return len(ids)
