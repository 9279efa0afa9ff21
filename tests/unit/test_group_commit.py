"""Group commit: every caller returns only after its document is written; concurrent callers share writes; a
failed write reaches each of its callers and the next ones still go through."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from cdp_common.group_commit import GroupCommit


class SlowStore:
    def __init__(self) -> None:
        self.stored: list[dict[str, Any]] = []
        self.calls: list[int] = []
        self.fail_next = False

    async def insert_many(self, docs: list[dict[str, Any]]) -> None:
        self.calls.append(len(docs))
        await asyncio.sleep(0.01)  # a round trip: meanwhile others arrive
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("store away")
        self.stored += docs


async def test_concurrent_callers_share_writes_and_each_returns_after_its_own_is_stored() -> None:
    store = SlowStore()
    commit = GroupCommit(store.insert_many, max_batch=50)

    async def one(i: int) -> None:
        await commit.add({"_id": i})
        assert {"_id": i} in store.stored  # never acknowledged before it is stored

    await asyncio.gather(*(one(i) for i in range(200)))
    assert sorted(d["_id"] for d in store.stored) == list(range(200))
    assert len(store.calls) < 20 and max(store.calls) <= 50


async def test_an_idle_document_is_written_at_once() -> None:
    store = SlowStore()
    commit = GroupCommit(store.insert_many)
    await asyncio.wait_for(commit.add({"_id": "alone"}), 1)
    assert store.calls == [1]


async def test_a_failed_write_reaches_its_callers_and_the_next_write_goes_through() -> None:
    store = SlowStore()
    commit = GroupCommit(store.insert_many)
    store.fail_next = True
    results = await asyncio.gather(*(commit.add({"_id": i}) for i in range(3)), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    await commit.add({"_id": "later"})
    assert store.stored == [{"_id": "later"}]


async def test_a_caller_that_gives_up_does_not_stop_the_write() -> None:
    store = SlowStore()
    commit = GroupCommit(store.insert_many)
    waiting = asyncio.create_task(commit.add({"_id": "a"}))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await commit.add({"_id": "b"})
    assert {"_id": "a"} in store.stored and {"_id": "b"} in store.stored
