"""The store contract (docs/store-contract.md): every operation the services rely on behaves as MongoDB does on
the store these tests run against (MongoDB under testcontainers, the wire-protocol store under deploy/local)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cdp_common.store import Document
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

pytestmark = pytest.mark.integration


class TestSingleDocumentAtomicity:
    async def test_duplicate_id_is_refused(self, db: AsyncDatabase[Document]) -> None:
        await db.c.insert_one({"_id": "a"})
        with pytest.raises(DuplicateKeyError):
            await db.c.insert_one({"_id": "a"})

    async def test_unique_secondary_index(self, db: AsyncDatabase[Document]) -> None:
        await db.c.create_index([("k", ASCENDING)], unique=True)
        await db.c.insert_one({"_id": 1, "k": "x"})
        with pytest.raises(DuplicateKeyError):
            await db.c.insert_one({"_id": 2, "k": "x"})

    async def test_conditional_update_applies_once(self, db: AsyncDatabase[Document]) -> None:
        await db.c.insert_one({"_id": "a", "version": 1, "tags": []})
        first = await db.c.find_one_and_update(
            {"_id": "a", "version": 1},
            {"$set": {"version": 2}, "$push": {"tags": "vip"}, "$inc": {"n": 1}},
            return_document=ReturnDocument.AFTER,
        )
        second = await db.c.find_one_and_update({"_id": "a", "version": 1}, {"$set": {"version": 3}})
        assert first is not None and first["version"] == 2 and first["tags"] == ["vip"] and first["n"] == 1
        assert second is None

    async def test_upsert_with_set_on_insert_is_idempotent(self, db: AsyncDatabase[Document]) -> None:
        for seen in ("first", "second"):
            await db.c.update_one(
                {"_id": "r"}, {"$setOnInsert": {"linked_by": seen}, "$set": {"last": seen}}, upsert=True
            )
        doc = await db.c.find_one({"_id": "r"})
        assert doc == {"_id": "r", "linked_by": "first", "last": "second"}

    async def test_many_ids_at_once(self, db: AsyncDatabase[Document]) -> None:
        await db.c.insert_many([{"_id": f"id{i}", "token": "odd" if i % 2 else "even"} for i in range(40)])
        ids = [f"id{i}" for i in range(0, 40, 2)] + ["id2", "missing"]  # 20 known, one twice, one unknown
        first = await db.c.update_many({"_id": {"$in": ids}}, {"$set": {"seen": True}})
        again = await db.c.update_many({"_id": {"$in": ids}}, {"$set": {"seen": True}})
        assert (first.matched_count, first.modified_count) == (20, 20)
        assert (again.matched_count, again.modified_count) == (20, 0)
        assert await db.c.count_documents({"_id": {"$in": ids}, "seen": True}) == 20
        assert await db.c.count_documents({"seen": True}) == 20
        gone = await db.c.delete_many({"_id": {"$in": [f"id{i}" for i in range(10)]}, "token": "odd"})
        assert gone.deleted_count == 5
        assert await db.c.count_documents({}) == 35

    async def test_pull_by_nested_field_and_size(self, db: AsyncDatabase[Document]) -> None:
        await db.c.insert_one({"_id": "a", "outbox": [{"event": {"id": "e1"}}, {"event": {"id": "e2"}}]})
        await db.c.update_one({"_id": "a"}, {"$pull": {"outbox": {"event.id": "e1"}}})
        assert await db.c.count_documents({"_id": "a", "outbox": {"$size": 1}}) == 1
        await db.c.update_one({"_id": "a"}, {"$pull": {"outbox": {"event.id": "e2"}}})
        assert await db.c.count_documents({"_id": "a", "outbox": {"$size": 0}}) == 1


class TestQueries:
    async def test_array_membership_range_sort_limit(self, db: AsyncDatabase[Document]) -> None:
        t = datetime(2026, 1, 1, tzinfo=UTC)
        await db.c.insert_many([{"_id": i, "keys": [f"k{i}", "shared"], "at": t.replace(day=i + 1)} for i in range(5)])
        assert [d["_id"] async for d in db.c.find({"keys": "k3"})] == [3]
        found = [
            d["_id"]
            async for d in db.c.find({"keys": "shared", "at": {"$gte": t.replace(day=2)}})
            .sort("at", DESCENDING)
            .limit(2)
        ]
        assert found == [4, 3]

    async def test_times_come_back_aware_utc_to_the_millisecond(self, db: AsyncDatabase[Document]) -> None:
        t = datetime(2026, 11, 22, 10, 0, 0, 123000, tzinfo=UTC)
        await db.c.insert_one({"_id": 1, "at": t})
        doc = await db.c.find_one({"_id": 1})
        assert doc is not None and doc["at"] == t and doc["at"].tzinfo is not None

    async def test_unicode_is_kept_exactly(self, db: AsyncDatabase[Document]) -> None:
        await db.c.insert_one({"_id": 1, "name": "Nguyễn Thị Minh Khai"})
        doc = await db.c.find_one({"name": "Nguyễn Thị Minh Khai"})
        assert doc is not None and doc["name"] == "Nguyễn Thị Minh Khai"

    async def test_simple_aggregation_stages(self, db: AsyncDatabase[Document]) -> None:
        await db.c.insert_many([{"k": "a", "v": 1}, {"k": "a", "v": 2}, {"k": "b", "v": 5}])
        cursor = await db.c.aggregate(
            [{"$match": {"v": {"$gte": 1}}}, {"$group": {"_id": "$k", "total": {"$sum": "$v"}}}, {"$sort": {"_id": 1}}]
        )
        assert [d async for d in cursor] == [{"_id": "a", "total": 3}, {"_id": "b", "total": 5}]
