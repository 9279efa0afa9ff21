"""Analytics facts: one document per event that counts for a KPI, `_id` = event id. Inserting a fact twice is a
no-op, so figures never double-count a redelivered event, and the read model can be rebuilt by replaying topics."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cdp_common.store import Document
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError


class Facts:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.facts = db["facts"]
        # one `_id`-keyed document per subject listing its fact ids: a subject's facts in two reads by `_id`,
        # on any store (the local one scans a whole collection for any other filter)
        self.by_subject = db["facts_by_subject"]

    async def ensure_indexes(self) -> None:
        await self.facts.create_index([("kind", ASCENDING), ("at", ASCENDING)], name="kind_at")

    async def record(self, event_id: str, kind: str, subject: str, at: datetime, **values: Any) -> bool:
        """False when the fact was already there (a redelivery); the subject index is completed either way."""
        try:
            await self.facts.insert_one({"_id": event_id, "kind": kind, "subject": subject, "at": at, **values})
            added = True
        except DuplicateKeyError:
            added = False
        await self.by_subject.update_one({"_id": subject}, {"$addToSet": {"ids": event_id}}, upsert=True)
        return added

    async def of_subject_indexed(self, subject: str) -> list[dict[str, Any]]:
        index = await self.by_subject.find_one({"_id": subject})
        if not index:
            return []
        return [d async for d in self.facts.find({"_id": {"$in": index["ids"]}})]

    async def daily_counts(self, kind: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Count of facts of `kind` per UTC day in [start, end). Grouped here: `$dateToString` is not in the
        aggregation subset the local store implements (docs/store-contract.md)."""
        counts: dict[str, int] = {}
        cursor = self.facts.find({"kind": kind, "at": {"$gte": start, "$lt": end}}, {"at": 1})
        async for doc in cursor:
            day = doc["at"].date().isoformat()
            counts[day] = counts.get(day, 0) + 1
        return [{"day": d, "count": counts[d]} for d in sorted(counts)]

    async def until(self, end: datetime) -> list[dict[str, Any]]:
        return [d async for d in self.facts.find({"at": {"$lt": end}})]

    async def erase_subject(self, subject: str) -> int:
        await self.by_subject.delete_one({"_id": subject})
        return (await self.facts.delete_many({"subject": subject})).deleted_count

    async def of_subject(self, subject: str) -> list[dict[str, Any]]:
        return [d async for d in self.facts.find({"subject": subject})]
