"""Consent subjects: one document per person holding every statement ever made about them (append-only; one
atomic update per statement, deduplicated by statement id), the effective state per channel and purpose, and the
suppression list."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cdp_common.store import Document
from pymongo.asynchronous.database import AsyncDatabase


class ConsentSubjects:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.subjects = db["subjects"]
        self.suppressions = db["suppressions"]

    async def register(self, person_id: str, channels: list[str], preferred: str | None, at: datetime) -> None:
        """Idempotent: the same person registered twice is one subject."""
        await self.subjects.update_one(
            {"_id": person_id},
            {
                "$setOnInsert": {"registered_at": at, "statements": [], "effective": {}},
                "$set": {"reachable_channels": channels, "preferred_channel": preferred},
            },
            upsert=True,
        )

    async def get(self, person_id: str) -> Document | None:
        return await self.subjects.find_one({"_id": person_id})

    async def get_many(self, person_ids: list[str]) -> dict[str, Document]:
        return {d["_id"]: d async for d in self.subjects.find({"_id": {"$in": person_ids}})}

    async def append(self, person_id: str, statement: dict[str, Any]) -> bool:
        """False when this statement is already in the ledger."""
        await self.subjects.update_one(
            {"_id": person_id},
            {
                "$setOnInsert": {
                    "registered_at": statement["received_at"],
                    "statements": [],
                    "effective": {},
                    "reachable_channels": [],
                    "preferred_channel": None,
                }
            },
            upsert=True,
        )
        result = await self.subjects.update_one(
            {"_id": person_id, "statements.id": {"$ne": statement["id"]}}, {"$push": {"statements": statement}}
        )
        return result.modified_count == 1

    async def set_effective(self, person_id: str, key: str, state: dict[str, Any]) -> None:
        await self.subjects.update_one({"_id": person_id}, {"$set": {f"effective.{key}": state}})

    async def suppress(self, person_id: str, reason: str, by: str, at: datetime) -> None:
        await self.suppressions.update_one(
            {"_id": person_id}, {"$set": {"reason": reason, "by": by, "at": at}}, upsert=True
        )

    async def unsuppress(self, person_id: str) -> None:
        await self.suppressions.delete_one({"_id": person_id})

    async def suppressed(self, person_ids: list[str]) -> dict[str, Document]:
        return {d["_id"]: d async for d in self.suppressions.find({"_id": {"$in": person_ids}})}
