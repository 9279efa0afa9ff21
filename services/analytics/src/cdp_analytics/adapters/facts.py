"""Analytics facts and daily roll-ups, written a consumer batch at a time.

- `activity`: one document per person (or campaign) holding their facts (`facts`: one entry per event, `id` = the
  event id, never a name, email or phone) and, per Kafka partition, the offset of the last event applied (`wm`).
- `kpi_days`: one document per UTC day with the KPI inputs of that day (`domain.rollups`) and, per partition, the
  offset of the last event whose change it holds (`wm`).

A batch costs two reads and two bulk writes, whatever its size: read its people and the days it touches, fold each
new fact into its person (a change to the day roll-ups per fact), write the days, then the people. Each write is
conditional on the offsets it read, so every event counts exactly once in both, without transactions:
- a fact already in its person's document (an offset at or below its `wm`, or an event id already listed: a
  re-publication) adds nothing;
- a day adds only the changes of events past its own `wm`. Days are written before people, so after a crash in
  between, the redelivered events fold again from the people's old state, giving the same changes, which the days
  that have them already skip;
- two consumers on one partition (a rebalance) cannot both write: the second's condition fails, and the batch is
  redelivered (`Contended`) and finds its events applied.
Facts recorded outside Kafka (`record`, for tests and seeding) carry no offset and are deduplicated by id only."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cdp_common.store import Document, find_by_ids
from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from cdp_analytics.domain.rollups import CustomerState, Delta


class Contended(Exception):
    """Another consumer wrote the same documents meanwhile; the batch is redelivered and finds its work done."""


@dataclass(frozen=True)
class Arrival:
    """A fact as it arrives: `fact` has `_id` (the event id), `kind`, `subject`, `at` and the KPI values;
    `position` is ("<topic>:<partition>", offset), None outside Kafka."""

    fact: dict[str, Any]
    position: tuple[str, int] | None = None


def _slot(partition_key: str) -> str:
    """A partition as a field name (topic names hold dots, which field paths cannot)."""
    return partition_key.replace(".", "_")


def _guard(_id: str, marks: dict[str, int], slots: Iterable[str]) -> dict[str, Any]:
    """Match the document only if its marks for `slots` are still the ones read."""
    query: dict[str, Any] = {"_id": _id}
    for s in slots:
        query[f"wm.{s}"] = marks.get(s, {"$exists": False})
    return query


class Facts:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.people = db["activity"]
        self.days = db["kpi_days"]

    async def record(self, event_id: str, kind: str, subject: str, at: datetime, **values: Any) -> bool:
        """One fact outside Kafka; False when it was already there."""
        found = await self.record_batch(
            [Arrival({"_id": event_id, "kind": kind, "subject": subject, "at": at, **values})]
        )
        return bool(found)

    async def record_batch(self, arrivals: list[Arrival]) -> dict[str, list[dict[str, Any]]]:
        """Apply a batch (in offset order per partition). Returns each person with new facts and all their facts."""
        by_subject: dict[str, list[Arrival]] = defaultdict(list)
        for a in arrivals:
            by_subject[a.fact["subject"]].append(a)
        stored = {d["_id"]: d async for d in find_by_ids(self.people, by_subject)}

        changes: list[tuple[tuple[str, int] | None, Delta]] = []  # per new fact, in arrival order
        people: list[UpdateOne] = []
        touched: dict[str, list[dict[str, Any]]] = {}
        for subject, items in by_subject.items():
            doc = stored.get(subject) or {}
            marks: dict[str, int] = doc.get("wm") or {}
            own = [_as_fact(subject, f) for f in doc.get("facts") or []]
            ids = {f["_id"] for f in own}
            state = CustomerState.of(own)
            new: list[dict[str, Any]] = []
            moved: dict[str, int] = {}
            for a in items:
                if a.position is not None:
                    slot = _slot(a.position[0])
                    moved[slot] = max(moved.get(slot, -1), a.position[1])
                    if a.position[1] <= marks.get(slot, -1):
                        continue
                if a.fact["_id"] in ids:
                    continue
                ids.add(a.fact["_id"])
                new.append(a.fact)
                changes.append((a.position, state.apply(a.fact)))
            moved = {s: o for s, o in moved.items() if o > marks.get(s, -1)}
            if not new and not moved:
                continue
            update: dict[str, Any] = {}
            if moved:
                update["$set"] = {f"wm.{s}": o for s, o in moved.items()}
            if new:
                update["$push"] = {"facts": {"$each": [_stored(f) for f in new]}}
                update["$max"] = {"last_at": max(f["at"] for f in new)}
                touched[subject] = own + new
            people.append(UpdateOne(_guard(subject, marks, moved), update, upsert=True))

        await self._roll_up(changes)
        await _write(self.people, people)
        return touched

    async def _roll_up(self, changes: list[tuple[tuple[str, int] | None, Delta]]) -> None:
        """Add each change to its days, each day skipping the events it already holds."""
        days = {day for _, delta in changes for day, _ in delta}
        if not days:
            return
        stored = {d["_id"]: d.get("wm") or {} async for d in find_by_ids(self.days, days, {"wm": 1})}
        inc: dict[str, dict[str, float]] = defaultdict(dict)
        moved: dict[str, dict[str, int]] = defaultdict(dict)
        for position, delta in changes:
            slot, offset = (_slot(position[0]), position[1]) if position else (None, -1)
            for (day, path), value in delta.items():
                if slot is not None:
                    if offset <= stored.get(day, {}).get(slot, -1):
                        continue
                    moved[day][slot] = max(moved[day].get(slot, -1), offset)
                inc[day][path] = inc[day].get(path, 0) + value
        ops = []
        for day in days:
            marks = stored.get(day, {})
            update: dict[str, Any] = {}
            if inc.get(day):
                update["$inc"] = inc[day]
            if moved.get(day):
                update["$set"] = {f"wm.{s}": o for s, o in moved[day].items()}
            if update:
                ops.append(UpdateOne(_guard(day, marks, moved.get(day, {})), update, upsert=True))
        await _write(self.days, ops)

    async def of_subject(self, subject: str) -> list[dict[str, Any]]:
        doc = await self.people.find_one({"_id": subject}, {"facts": 1})
        return [_as_fact(subject, f) for f in (doc or {}).get("facts") or []]

    async def of_subjects(self, subjects: list[str]) -> dict[str, list[dict[str, Any]]]:
        return {
            d["_id"]: [_as_fact(d["_id"], f) for f in d.get("facts") or []]
            async for d in find_by_ids(self.people, subjects, {"facts": 1})
        }

    async def subjects(self, size: int = 1000) -> AsyncIterator[list[str]]:
        """Every person (or campaign) with facts, `size` at a time."""
        chunk: list[str] = []
        async for d in self.people.find({}, {"_id": 1}):
            chunk.append(d["_id"])
            if len(chunk) == size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    async def day_documents(self, end: datetime) -> list[dict[str, Any]]:
        """Every day's roll-up before `end`, oldest first (a few thousand small documents at most)."""
        last = end.date().isoformat()
        days = [d async for d in self.days.find({}, {"wm": 0}) if d["_id"] < last]
        return sorted(days, key=lambda d: str(d["_id"]))

    async def contacts_created_per_day(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Contacts created per UTC day in [start, end), from the roll-ups."""
        first = start.date().isoformat()
        days = [d for d in await self.day_documents(end) if d["_id"] >= first and d.get("contacts_created")]
        return [{"day": d["_id"], "count": d["contacts_created"]} for d in days]

    async def until(self, end: datetime) -> list[dict[str, Any]]:
        return [
            _as_fact(d["_id"], f)
            async for d in self.people.find({}, {"facts": 1})
            for f in d.get("facts") or []
            if f["at"] < end
        ]

    async def erase_subject(self, subject: str) -> int:
        """The person's facts go; the daily totals they were counted in stay (they hold no one's data)."""
        doc = await self.people.find_one_and_delete({"_id": subject}, {"facts.id": 1})
        return len((doc or {}).get("facts") or [])


def _stored(fact: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in fact.items() if k not in ("_id", "subject") and v is not None}
    out["id"] = fact["_id"]
    return out


def _as_fact(subject: str, stored: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in stored.items() if k != "id"}
    out["_id"], out["subject"] = stored["id"], subject
    return out


async def _write(collection: Any, ops: list[UpdateOne]) -> None:
    if not ops:
        return
    try:
        result = await collection.bulk_write(ops, ordered=False)
    except BulkWriteError as e:  # an upsert raced another consumer's insert of the same document
        raise Contended(f"{collection.name}: {len(e.details.get('writeErrors', []))} writes lost a race") from None
    missed = len(ops) - result.matched_count - result.upserted_count
    if missed > 0:
        raise Contended(f"{collection.name}: {missed} documents changed meanwhile")
