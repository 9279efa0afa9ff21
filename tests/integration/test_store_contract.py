"""The store contract (docs/store-contract.md): every operation the services rely on behaves as MongoDB does on
the store these tests run against (MongoDB under testcontainers, the wire-protocol store under deploy/local)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from cdp_common.store import Document
from pymongo import ASCENDING, DESCENDING, ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

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

    async def test_concurrent_conditional_updates_each_apply_once(self, db: AsyncDatabase[Document]) -> None:
        """Ten writers of one document, each `{_id, version}` then retry: every change lands, none twice (FerretDB
        v1.24.1 read and wrote in two transactions, and lost nine of ten; deploy/local/ferretdb/patches)."""
        await db.c.insert_one({"_id": "v", "version": 0, "seen": []})

        async def write(i: int) -> None:
            for _ in range(500):
                doc = await db.c.find_one({"_id": "v"})
                assert doc is not None
                done = await db.c.update_one(
                    {"_id": "v", "version": doc["version"]}, {"$inc": {"version": 1}, "$push": {"seen": i}}
                )
                if done.modified_count:
                    return
                await asyncio.sleep(0.001 * (i % 3))
            raise AssertionError(f"writer {i} never got through")

        await asyncio.gather(*(write(i) for i in range(10)))
        doc = await db.c.find_one({"_id": "v"})
        assert doc is not None and doc["version"] == 10 and sorted(doc["seen"]) == list(range(10))

    async def test_a_bulk_of_many_updates_of_stored_documents_completes(self, db: AsyncDatabase[Document]) -> None:
        """150 updates of stored documents in one command (FerretDB v1.24.1 held a connection per update until the
        command ended, and waited for ever past its 100)."""
        await db.c.insert_many([{"_id": i, "n": 0} for i in range(150)])
        done = await asyncio.wait_for(
            db.c.bulk_write([UpdateOne({"_id": i}, {"$inc": {"n": 1}}) for i in range(150)], ordered=False), 30
        )
        assert (done.matched_count, done.modified_count) == (150, 150)

    async def test_unordered_upserts_report_each_duplicate_and_apply_the_rest(
        self, db: AsyncDatabase[Document]
    ) -> None:
        await db.c.create_index([("k", ASCENDING)], unique=True)
        await db.c.insert_one({"_id": 0, "k": "taken"})
        ops = [
            UpdateOne({"_id": 0}, {"$set": {"x": 1}}),
            UpdateOne({"_id": 1}, {"$set": {"k": "taken"}}, upsert=True),  # breaks the unique index
            UpdateOne({"_id": 2}, {"$set": {"k": "free"}}, upsert=True),
        ]
        with pytest.raises(BulkWriteError) as e:
            await db.c.bulk_write(ops, ordered=False)
        details = e.value.details
        assert [(w["index"], w["code"]) for w in details["writeErrors"]] == [(1, 11000)]
        assert (details["nMatched"], details["nModified"], details["nUpserted"]) == (1, 1, 1)
        assert [(u["index"], u["_id"]) for u in details["upserted"]] == [(2, 2)]
        assert sorted([d["_id"] async for d in db.c.find({})]) == [0, 2]

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

    async def test_pull_and_pull_all_by_value_then_size(self, db: AsyncDatabase[Document]) -> None:
        entries = [{"topic": "t", "event": {"id": f"e{i}", "at": "2026-01-01T00:00:00Z"}} for i in range(4)]
        await db.c.insert_one({"_id": "a", "outbox": entries, "ids": ["x", "y", "z"]})
        stored = (await db.c.find_one({"_id": "a"}))["outbox"]
        # entries leave by value, as read back (FerretDB v1's $pull takes no condition such as {"event.id": ...})
        await db.c.update_one({"_id": "a"}, {"$pullAll": {"outbox": stored[:2]}, "$pull": {"ids": "y"}})
        assert await db.c.count_documents({"_id": "a", "outbox": {"$size": 2}}) == 1
        after = await db.c.find_one({"_id": "a"})
        assert [e["event"]["id"] for e in after["outbox"]] == ["e2", "e3"] and after["ids"] == ["x", "z"]
        await db.c.update_one({"_id": "a"}, {"$pullAll": {"outbox": stored[2:], "ids": ["x", "z", "missing"]}})
        assert await db.c.count_documents({"_id": "a", "outbox": {"$size": 0}, "ids": {"$size": 0}}) == 1


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
