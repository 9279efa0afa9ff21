"""Retention: each service names the kinds of data it keeps with how long by default; a scheduled job deletes
what is older. Operators change a period without a deploy through `CRM_RETENTION_DAYS` (JSON, kind -> days; 0 or
a missing default keeps forever) and read the rules and the last run at `GET /retention`.

The job deletes by a time field (one `delete_many` per kind, idempotent, so every replica may run it); it runs at
start-up after a random pause and then every `CRM_RETENTION_INTERVAL_SECONDS`."""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from cdp_common.events import utcnow
from cdp_common.metrics import RETENTION_DELETED
from cdp_common.store import Document

log = logging.getLogger("cdp.retention")


@dataclass(frozen=True)
class RetentionRule:
    kind: str
    collection: str
    time_field: str
    default_days: int | None
    description: str
    only: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


INBOX = RetentionRule(
    "processed_event_ids",
    "processed_events",
    "at",
    30,
    "Ids of events already applied (duplicate detection); a redelivery older than this would apply again.",
)


@dataclass
class RetentionJob:
    rules: list[RetentionRule]
    overrides: dict[str, int]
    last_run: datetime | None = None
    last_deleted: dict[str, int] = field(default_factory=dict)

    def days(self, rule: RetentionRule) -> int | None:
        days = self.overrides.get(rule.kind, rule.default_days)
        return days if days else None

    async def run(self, db: AsyncDatabase[Document], now: datetime | None = None) -> dict[str, int]:
        now = now or utcnow()
        deleted: dict[str, int] = {}
        for rule in self.rules:
            days = self.days(rule)
            if days is None:
                continue
            cutoff = now - timedelta(days=days)
            result = await db[rule.collection].delete_many({**rule.only, rule.time_field: {"$lt": cutoff}})
            deleted[rule.kind] = deleted.get(rule.kind, 0) + result.deleted_count  # a kind may span collections
            RETENTION_DELETED.labels(rule.kind).inc(result.deleted_count)
        self.last_run, self.last_deleted = now, deleted
        log.info("retention job ran", extra={"deleted": deleted})
        return deleted

    async def every(self, db: AsyncDatabase[Document], interval_s: float) -> None:
        await asyncio.sleep(random.uniform(5.0, 30.0))  # noqa: S311 - replicas started together do not all scan at once
        while True:
            try:
                await self.run(db)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("retention job failed; it runs again at the next interval")
            await asyncio.sleep(interval_s)

    def describe(self) -> dict[str, Any]:
        return {
            "rules": [
                {
                    "kind": r.kind,
                    "collection": r.collection,
                    "older_than_days": self.days(r),
                    "default_days": r.default_days,
                    "by": r.time_field,
                    "description": r.description,
                }
                for r in self.rules
            ],
            "last_run": self.last_run,
            "last_deleted": self.last_deleted,
        }
