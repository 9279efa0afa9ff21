"""Search from memory against the real store: the replica's own writes are searchable at once, what changed
elsewhere is found as it is after a refresh, hits are checked again against the store, and an erased person leaves
the memory with the erasure."""

from __future__ import annotations

import pytest
from cdp_common.store import Document
from cdp_contacts.adapters.repository import SearchQuery
from cdp_contacts.adapters.search_index import SearchIndex
from cdp_contacts.service_layer import handlers, privacy
from pymongo.asynchronous.database import AsyncDatabase

from tests.integration.contacts.support import RecordingPublisher, command, deps_for

pytestmark = pytest.mark.integration


async def test_search_memory_follows_writes_refreshes_and_erasure(db: AsyncDatabase[Document]) -> None:
    deps = await deps_for(db, RecordingPublisher(), "t")
    deps.repo.memory = SearchIndex()
    await deps.repo.load_search_index()
    deps.repo.memory_current = lambda: True

    async def names(**q: str) -> list[str]:
        found, _ = await deps.repo.search(SearchQuery(**q))  # type: ignore[arg-type]
        return [c.golden["full_name"] for c in found]

    bao = (await handlers.create_contact(command(), deps)).contact.id  # "Phạm Quốc Bảo"
    assert await names(name="bao pham") == ["Phạm Quốc Bảo"]  # own write, no refresh needed

    # another replica renames him: the memory still has the old name until the refresh...
    await db.contacts.update_one(
        {"_id": bao},
        {
            "$set": {
                "search_name": "pham quoc binh",
                "name_tokens": ["pham", "quoc", "binh"],
                "golden.full_name": "Phạm Quốc Bình",
            }
        },
    )
    assert await names(name="bao pham") == []  # ...but the hit is checked against the store and dropped
    await deps.repo.refresh_search_index([bao])
    assert await names(name="binh") == ["Phạm Quốc Bình"]

    await privacy.erase(bao, deps)
    assert bao not in deps.repo.memory.entries
    assert ("t", "binh") not in deps.repo.memory.postings
