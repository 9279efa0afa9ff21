"""Retention against the real store: what is older than its kind's period goes, what is younger stays, a kind kept
forever is never touched, and an operator's override (no deploy) wins over the default."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cdp_common.events import utcnow
from cdp_common.retention import RetentionJob, RetentionRule
from cdp_common.store import Document
from pymongo.asynchronous.database import AsyncDatabase

pytestmark = pytest.mark.integration

RULES = [
    RetentionRule("exports", "exports", "created_at", 30, "exports"),
    RetentionRule("audit", "audit", "at", 365, "audit"),
    RetentionRule("facts", "facts", "at", None, "kept forever"),
]


async def test_old_data_goes_young_data_stays_and_overrides_win(db: AsyncDatabase[Document]) -> None:
    now = utcnow()
    await db.exports.insert_many(
        [{"_id": "old", "created_at": now - timedelta(days=31)}, {"_id": "new", "created_at": now}]
    )
    await db.audit.insert_many(
        [{"_id": "a400", "at": now - timedelta(days=400)}, {"_id": "a100", "at": now - timedelta(days=100)}]
    )
    await db.facts.insert_one({"_id": "f", "at": now - timedelta(days=5000)})

    job = RetentionJob(RULES, {"audit": 90})
    assert await job.run(db, now) == {"exports": 1, "audit": 2}
    assert [d["_id"] async for d in db.exports.find({})] == ["new"]
    assert await db.audit.count_documents({}) == 0  # the override (90 days) reached the 100-day-old entry too
    assert await db.facts.count_documents({}) == 1
    assert await job.run(db, now) == {"exports": 0, "audit": 0}  # idempotent
    described = {r["kind"]: r["older_than_days"] for r in job.describe()["rules"]}
    assert described == {"exports": 30, "audit": 90, "facts": None}
