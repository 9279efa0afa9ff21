"""The identity graph in the identity service's own database: source records and the persons they belong to.

A source record's `_id` is "<source>:<record id in that source>", so re-delivering the same record is an upsert of
the same document, never a second record.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cdp_common.store import Document
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase


class IdentityGraph:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.records = db["source_records"]

    async def ensure_indexes(self) -> None:
        await self.records.create_index([("person_id", ASCENDING)], name="person_id")
        await self.records.create_index([("identifiers", ASCENDING)], name="identifiers")

    async def link_record(
        self,
        *,
        source: str,
        record_id: str,
        person_id: str,
        identifiers: list[str],
        attributes: dict[str, Any],
        observed_at: datetime,
        rule: str,
        event_id: str,
    ) -> None:
        await self.records.update_one(
            {"_id": f"{source}:{record_id}"},
            {
                "$set": {
                    "source": source,
                    "record_id": record_id,
                    "identifiers": identifiers,
                    "attributes": attributes,
                    "observed_at": observed_at,
                },
                "$setOnInsert": {
                    "person_id": person_id,
                    "link": {"rule": rule, "event_id": event_id, "linked_at": observed_at},
                },
            },
            upsert=True,
        )

    async def records_of(self, person_id: str) -> list[Document]:
        return [d async for d in self.records.find({"person_id": person_id}).sort("observed_at", ASCENDING)]
