"""Segment membership, kept current two ways: the subject of every new fact is evaluated against every dynamic
segment at once (membership follows an event within the consumer's latency), and the periodic evaluation runs
every segment over every customer (time-based conditions: "no purchase for 90 days" becomes true with no event).
Each change publishes `segment.entered` or `segment.exited` (key: contact id) before the membership is stored, so
a crash in between republishes it; consumers apply membership as a state, so a repeat changes nothing."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

from cdp_common.contracts.analytics import SegmentMembership
from cdp_common.events import make_event
from cdp_common.messaging import EventPublisher
from cdp_common.store import Document, find_by_ids
from cdp_common.topics import ANALYTICS_EVENTS
from pymongo import DeleteOne, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from cdp_analytics.adapters.facts import Facts
from cdp_analytics.domain.customers import Customer
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
        """Store the definition, its evaluation marked running (`evaluate_one` is to follow), so that no listing in
        between shows a definition without its state."""
        doc: dict[str, Any] = {"name": name, "kind": "dynamic" if rules else "static", "updated_at": now}
        doc["evaluation"] = {"state": "running", "started_at": now}
        doc["rules"] = rules.model_dump() if rules else None
        doc["ids"] = sorted(set(ids or [])) if rules is None else None
        await self.defs.update_one({"_id": sid}, {"$set": doc, "$setOnInsert": {"created_at": now}}, upsert=True)

    async def all(self) -> list[Document]:
        return [d async for d in self.defs.find({})]

    async def member_ids(self, sid: str) -> set[str]:
        return {d["contact_id"] async for d in self.members.find({"segment_id": sid}, {"contact_id": 1})}

    async def apply(self, changes: list[tuple[Document, str, bool]], now: datetime) -> int:
        """Publish each membership change (`segment.entered` / `segment.exited`), all acknowledged together, then
        store them in one bulk write."""
        if not changes:
            return 0
        events = []
        writes: list[UpdateOne | DeleteOne] = []
        for seg, cid, member in changes:
            key = f"{seg['_id']}|{cid}"
            kind = "segment.entered" if member else "segment.exited"
            data = SegmentMembership(contact_id=cid, segment_id=seg["_id"], segment_name=seg["name"], at=now)
            event_id = uuid.uuid5(NS, f"{key}:{kind}:{now.isoformat()}").hex
            event = make_event(source=SOURCE, event_type=kind, subject=cid, event_id=event_id, data=data)
            events.append((ANALYTICS_EVENTS.name, event))
            if member:
                doc = {"segment_id": seg["_id"], "contact_id": cid, "since": now}
                writes.append(UpdateOne({"_id": key}, {"$set": doc}, upsert=True))
            else:
                writes.append(DeleteOne({"_id": key}))
        await self.publisher.publish_many(events)
        await self.members.bulk_write(writes, ordered=False)
        return len(changes)

    @staticmethod
    def _rules_of(seg: Document) -> Rules | None:
        """The segment's rules, parsed once per evaluation (None for a static list)."""
        return Rules.model_validate(seg["rules"]) if seg["kind"] == "dynamic" else None

    async def refresh_subject(self, facts: Facts, subject: str, now: datetime) -> int:
        """Evaluate one customer (after a new fact) against every segment. Returns how many memberships changed."""
        customer = await facts.customer(subject)
        return await self.refresh_subjects({subject: customer} if customer else {}, now)

    async def refresh_subjects(self, people: dict[str, Customer], now: datetime) -> int:
        """Evaluate customers against every segment: three reads whatever their number."""
        return await self.apply(await self.changes_for(people, now), now)

    async def changes_for(self, people: dict[str, Customer], now: datetime) -> list[tuple[Document, str, bool]]:
        """The membership changes evaluating `people` against every segment makes, without making them."""
        if not people:
            return []
        segments = [(seg, self._rules_of(seg)) for seg in await self.all()]
        subjects = list(people)
        scores = {d["_id"]: d async for d in find_by_ids(self.scores, subjects)}
        keys = [f"{seg['_id']}|{s}" for s in subjects for seg, _ in segments]
        present = {d["_id"] async for d in find_by_ids(self.members, keys, {"_id": 1})}
        changes = []
        for subject, customer in people.items():
            for seg, rules in segments:
                if rules is None:
                    member = subject in (seg.get("ids") or [])
                else:
                    member = matches(rules, customer, scores.get(subject, {}), now)
                if member != (f"{seg['_id']}|{subject}" in present):
                    changes.append((seg, subject, member))
        return changes

    async def refresh_all(self, customers: dict[str, Customer], now: datetime) -> int:
        """Every segment over every customer (time passes: windows move, silences grow)."""
        scores = {d["_id"]: d async for d in self.scores.find({}, batch_size=1000)}
        changes = []
        for seg in await self.all():
            current = await self.member_ids(seg["_id"])
            rules = self._rules_of(seg)
            if rules is None:
                should = set(seg.get("ids") or [])
            else:
                should = {cid for cid, c in customers.items() if matches(rules, c, scores.get(cid, {}), now)}
            changes += [(seg, cid, cid in should) for cid in should ^ current]
        return await self.apply(changes, now)

    async def evaluate_one(self, facts: Facts, sid: str, now: datetime, chunk: int = 1000) -> int:
        """One segment over every customer, `chunk` people at a time (memory stays that of a chunk, whatever the
        number of facts), its state kept on the definition (`evaluation`: running, then done with the member count
        and the changes, or failed). Returns how many memberships changed."""
        seg = await self.defs.find_one({"_id": sid})
        if seg is None:
            return 0
        started = {"state": "running", "started_at": now}
        await self.defs.update_one({"_id": sid}, {"$set": {"evaluation": started}})
        try:
            rules = self._rules_of(seg)
            current = await self.member_ids(sid)
            if rules is None:
                should = set(seg.get("ids") or [])
            else:
                should = set()
                async for customers in facts.customers(chunk):
                    scores = {d["_id"]: d async for d in find_by_ids(self.scores, list(customers))}
                    for cid, c in customers.items():
                        if matches(rules, c, scores.get(cid, {}), now):
                            should.add(cid)
            changes = [(seg, cid, cid in should) for cid in sorted(should ^ current)]
            for i in range(0, len(changes), chunk):
                await self.apply(changes[i : i + chunk], now)
        except Exception:
            failed = {**started, "state": "failed", "finished_at": datetime.now(UTC)}
            await self.defs.update_one({"_id": sid}, {"$set": {"evaluation": failed}})
            raise
        done = {**started, "state": "done", "finished_at": datetime.now(UTC), "members": len(should)}
        await self.defs.update_one({"_id": sid}, {"$set": {"evaluation": {**done, "changed": len(changes)}}})
        return len(changes)

    async def erase(self, subject: str) -> int:
        return (await self.members.delete_many({"contact_id": subject})).deleted_count
