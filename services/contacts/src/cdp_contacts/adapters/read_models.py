"""What this service keeps of the other services' events for the 360° view (no cross-database reads): consent
state, identity links and analytics scores per contact. Each is an upsert keyed by contact id, newest event wins."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cdp_common.store import Document
from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase


class ReadModels:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.views = db["contact_views"]

    async def put(self, contact_id: str, section: str, key: str, value: dict[str, Any], at: datetime) -> None:
        """Set `section.key` unless a newer value is already there (events can arrive out of order)."""
        path = f"{section}.{key.replace('.', '~')}"
        await self.views.update_one({"_id": contact_id}, {"$setOnInsert": {"created": at}}, upsert=True)
        await self.views.update_one(
            {"_id": contact_id, "$or": [{f"{path}.at": {"$exists": False}}, {f"{path}.at": {"$lte": at}}]},
            {"$set": {path: {**value, "at": at}}},
        )

    async def put_many(self, items: list[tuple[str, str, str, dict[str, Any], datetime]]) -> None:
        """`put` of many (contact id, section, key, value, at) in one ordered write."""
        ops: list[UpdateOne] = []
        for contact_id, section, key, value, at in items:
            path = f"{section}.{key.replace('.', '~')}"
            ops.append(UpdateOne({"_id": contact_id}, {"$setOnInsert": {"created": at}}, upsert=True))
            ops.append(
                UpdateOne(
                    {"_id": contact_id, "$or": [{f"{path}.at": {"$exists": False}}, {f"{path}.at": {"$lte": at}}]},
                    {"$set": {path: {**value, "at": at}}},
                )
            )
        if ops:
            await self.views.bulk_write(ops, ordered=True)  # each upsert before its conditional update

    async def get(self, contact_id: str) -> Document:
        return await self.views.find_one({"_id": contact_id}) or {}

    async def erase(self, contact_id: str) -> None:
        await self.views.delete_one({"_id": contact_id})
