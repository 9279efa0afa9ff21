"""Consent subjects (the persons the ledger speaks about) in the consent service's own database."""

from __future__ import annotations

from datetime import datetime

from cdp_common.store import Document
from pymongo.asynchronous.database import AsyncDatabase


class ConsentSubjects:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.subjects = db["subjects"]

    async def register(self, person_id: str, channels: list[str], preferred: str | None, at: datetime) -> None:
        """Idempotent: the same person registered twice is one subject."""
        await self.subjects.update_one(
            {"_id": person_id},
            {
                "$setOnInsert": {"registered_at": at, "statements": []},
                "$set": {"reachable_channels": channels, "preferred_channel": preferred},
            },
            upsert=True,
        )

    async def get(self, person_id: str) -> Document | None:
        return await self.subjects.find_one({"_id": person_id})
