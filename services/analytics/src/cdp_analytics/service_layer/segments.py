"""Segment membership, kept current two ways: the subject of every new fact is evaluated against every dynamic
segment at once (membership follows an event within the consumer's latency), and the periodic evaluation runs
every segment over every customer (time-based conditions: "no purchase for 90 days" becomes true with no event).
Each change publishes `segment.entered` or `segment.exited` (key: contact id) before the membership is stored, so
a crash in between republishes it; consumers apply membership as a state, so a repeat changes nothing."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from cdp_common.contracts.analytics import SegmentMembership
from cdp_common.events import make_event
from cdp_common.messaging import EventPublisher
from cdp_common.store import Document
from cdp_common.topics import ANALYTICS_EVENTS
from pymongo.asynchronous.database import AsyncDatabase

from cdp_analytics.adapters.facts import Facts
from cdp_analytics.domain.customers import by_subject, customers_from
from cdp_analytics.domain.segments import BUILT_IN, Rules, matches

SOURCE = "cdp/analytics"
NS = uuid.UUID("0e5b7d1c-3f4a-4e2b-8a61-2c9d7f3e5a14")
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


class Segments:
    def __init__(self, db: AsyncDatabase[Document], publisher: EventPublisher) -> None:
        self.defs = db["segments"]
        self.members = db["segment_members"]  # _id "<segment>|<contact>"
        self.scores = db["customer_scores"]
        self.publisher = publisher

    async def ensure_built_in(self, now: datetime) -> None:
        for sid, (name, rules) in BUILT_IN.items():
            await self.defs.update_one(
                {"_id": sid},
                {
                    "$setOnInsert": {
                        "name": name,
                        "kind": "dynamic",
                        "rules": rules.model_dump(),
                        "built_in": True,
                        "created_at": now,
                    }
                },
                upsert=True,
            )

    async def define(self, sid: str, name: str, rules: Rules | None, ids: list[str] | None, now: datetime) -> None:
        doc: dict[str, Any] = {"name": name, "kind": "dynamic" if rules else "static", "updated_at": now}
        doc["rules"] = rules.model_dump() if rules else None
        doc["ids"] = sorted(set(ids or [])) if rules is None else None
        await self.defs.update_one({"_id": sid}, {"$set": doc, "$setOnInsert": {"created_at": now}}, upsert=True)

    async def all(self) -> list[Document]:
        return [d async for d in self.defs.find({})]

    async def member_ids(self, sid: str) -> set[str]:
        return {d["contact_id"] async for d in self.members.find({"segment_id": sid}, {"contact_id": 1})}

    async def _set(self, seg: Document, cid: str, member: bool, now: datetime, present: bool | None = None) -> bool:
        """Make `cid`'s membership of `seg` what it should be; True when it changed (and was published).
        `present`: whether it is a member now, when the caller already read it."""
        key = f"{seg['_id']}|{cid}"
        if present is None:
            present = await self.members.find_one({"_id": key}, {"_id": 1}) is not None
        if present == member:
            return False
        kind = "segment.entered" if member else "segment.exited"
        await self.publisher.publish(
            ANALYTICS_EVENTS.name,
            make_event(
                source=SOURCE,
                event_type=kind,
                subject=cid,
                event_id=uuid.uuid5(NS, f"{key}:{kind}:{now.isoformat()}").hex,
                data=SegmentMembership(contact_id=cid, segment_id=seg["_id"], segment_name=seg["name"], at=now),
            ),
        )
        if member:
            await self.members.update_one(
                {"_id": key}, {"$set": {"segment_id": seg["_id"], "contact_id": cid, "since": now}}, upsert=True
            )
        else:
            await self.members.delete_one({"_id": key})
        return True

    @staticmethod
    def _rules_of(seg: Document) -> Rules | None:
        """The segment's rules, parsed once per evaluation (None for a static list)."""
        return Rules.model_validate(seg["rules"]) if seg["kind"] == "dynamic" else None

    async def refresh_subject(self, facts: Facts, subject: str, now: datetime) -> int:
        """Evaluate one customer (after a new fact) against every segment. Returns how many memberships changed."""
        own = await facts.of_subject_indexed(subject)
        customer = customers_from(own).get(subject)
        if customer is None:
            return 0
        scores = await self.scores.find_one({"_id": subject}) or {}
        segments = await self.all()
        # the customer's memberships of every segment in one read, not one per segment
        keys = [f"{seg['_id']}|{subject}" for seg in segments]
        present = {d["_id"] async for d in self.members.find({"_id": {"$in": keys}}, {"_id": 1})}
        changed = 0
        for seg, key in zip(segments, keys, strict=True):
            rules = self._rules_of(seg)
            member = subject in (seg.get("ids") or []) if rules is None else matches(rules, customer, own, scores, now)
            changed += await self._set(seg, subject, member, now, present=key in present)
        return changed

    async def refresh_all(self, all_facts: list[dict[str, Any]], now: datetime) -> int:
        """Every segment over every customer (time passes: windows move, silences grow)."""
        grouped = by_subject(all_facts)
        customers = customers_from(all_facts)
        scores = {d["_id"]: d async for d in self.scores.find({})}
        changed = 0
        for seg in await self.all():
            current = await self.member_ids(seg["_id"])
            rules = self._rules_of(seg)
            if rules is None:
                should = set(seg.get("ids") or [])
            else:
                should = {
                    cid
                    for cid, c in customers.items()
                    if matches(rules, c, grouped.get(cid, []), scores.get(cid, {}), now)
                }
            for cid in should ^ current:
                changed += await self._set(seg, cid, cid in should, now, present=cid in current)
        return changed

    async def erase(self, subject: str) -> int:
        return (await self.members.delete_many({"contact_id": subject})).deleted_count
