"""Analytics facts, each person's summary and the daily roll-ups, written a consumer batch at a time.

- `activity`: one document per person (or campaign): what ingestion and segments need and nothing more, so that a
  batch never reads anyone's facts. The digests of the events already applied (`ids`), per Kafka partition the offset of
  the last one (`wm`), the state the people-counting roll-ups depend on (`st`: paid and lead days, won deals, each
  email's first sent/opened/clicked day; `domain.rollups.CustomerState`), the summary segments, journey and RFM read
  (`cu`: purchases with amounts, when each other kind of event happened, last activity; `domain.customers.Customer`),
  and the months that hold their facts (`months`).
- `activity_months`: the facts themselves, one document per person and calendar month (`"<subject>|<YYYY-MM>"`),
  one entry per event (`id` = the event id, never a name, email or phone), and the time of the latest
  (`last_at`, for retention). Read only by exports, erasure, the
  periodic evaluation and per-segment KPIs, found by `_id` from the person's `months`.
- `kpi_days`: one document per UTC day with the KPI inputs of that day (`domain.rollups`) and, per partition, the
  offset of the last event whose change it holds (`wm`).

A batch reads its people and the days it touches, then writes the months, the days and the people. Each event counts
exactly once in all three, without transactions:
- a fact the person already has (an offset at or below its `wm`, or an id whose digest is in `ids`: a
  re-publication) adds nothing;
- months take facts with `$addToSet`, so the same fact written twice is kept once;
- a day adds only the changes of events past its own `wm`. Months and days are written before people, so after a
  crash in between, the redelivered events fold again from the people's old state, giving the same facts and changes,
  which the months and days already holding them skip;
- two consumers cannot both write a person: a person is rewritten only at the revision read (`rev`, a new one at
  every write), and inserted only if absent when read. Of two consumers on one partition (a rebalance), or of the
  consumers of two topics carrying events of the same person, the second's write fails and its batch is redelivered
  (`Contended`), to find its events applied or to apply them on the person as now stored; an erasure between the read
  and the write is not undone. Two consumers on one partition cannot both write a day either (its condition is the
  partition's offset). The days a losing batch already wrote stay right because the contact events topic brings
  only `contact.created`, whose change to the days depends on nothing else the person did.
Facts recorded outside Kafka (`record`, for tests and seeding) carry no offset and are deduplicated by id only.

Documents written before the summaries existed hold their facts inline (`facts`); `upgrade` moves them to months and
writes the summary (at start-up, and for any such person a batch touches)."""

from __future__ import annotations

import asyncio
from collections import OrderedDict, defaultdict
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bson import ObjectId
from cdp_common.digests import digest, pack, unpack
from cdp_common.store import Document, find_all_by_ids, find_by_ids
from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from cdp_analytics.domain.customers import SUMMARY_VERSION, Customer, customers_from
from cdp_analytics.domain.kpis import Member
from cdp_analytics.domain.rollups import CustomerState, Delta, Message

SPEND = "marketing.spend_recorded"  # about a campaign: no customer summary
# documents per reply when reading many: the local store otherwise answers a whole collection at once, past the
# driver's 48 MB message limit (8,000 people with 720,000 facts inline came to 61 MB)
BATCH = 1000


ABSENT = {"$exists": False}
HELD = 20_000  # people documents held in memory by default (about 3 KB each)


Beside = Callable[[dict[str, Customer]], Coroutine[Any, Any, None]]


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


def month_of(at: datetime) -> str:
    return f"{at.year:04d}-{at.month:02d}"


def month_key(subject: str, month: str) -> str:
    return f"{subject}|{month}"


class Facts:
    def __init__(self, db: AsyncDatabase[Document], held: int = HELD) -> None:
        """`held`: how many people documents to keep in memory as last written (0: none), so that a batch reads from
        the store only the people it does not hold. A held document is never trusted blindly: the write is
        conditional on its revision, so one changed elsewhere meanwhile fails the batch, which is redelivered and
        reads it afresh."""
        self.people = db["activity"]
        self.months = db["activity_months"]
        self.days = db["kpi_days"]
        self._held: OrderedDict[str, Document] = OrderedDict()
        self._hold = held

    async def record(self, event_id: str, kind: str, subject: str, at: datetime, **values: Any) -> bool:
        """One fact outside Kafka; False when it was already there."""
        _, new = await self._apply([Arrival({"_id": event_id, "kind": kind, "subject": subject, "at": at, **values})])
        return new > 0

    async def customer(self, subject: str) -> Customer | None:
        """One customer's summary (None for an unknown person or a campaign)."""
        doc = (await self._summaries([subject])).get(subject)
        return customer_of(subject, (doc or {}).get("cu"))

    async def record_batch(self, arrivals: list[Arrival], beside: Beside | None = None) -> dict[str, Customer]:
        """Apply a batch (in offset order per partition). Returns each person with new facts (not campaigns) and
        their summary after it. `beside` is handed those people as soon as they are known and runs while the batch
        is written (segment membership); if the writes fail, the batch is redelivered and `beside` sees the same
        people again."""
        return (await self._apply(arrivals, beside))[0]

    async def _apply(self, arrivals: list[Arrival], beside: Beside | None = None) -> tuple[dict[str, Customer], int]:
        by_subject: dict[str, list[Arrival]] = defaultdict(list)
        for a in arrivals:
            by_subject[a.fact["subject"]].append(a)
        held = {s: d for s in by_subject if (d := self._held.get(s)) is not None}
        stored = held | await self._summaries([s for s in by_subject if s not in held])
        after = dict(stored)  # each person's document once the batch is written

        changes: list[tuple[tuple[str, int] | None, Delta]] = []  # per new fact, in arrival order
        months: dict[str, list[dict[str, Any]]] = defaultdict(list)
        people: list[UpdateOne] = []
        touched: dict[str, Customer] = {}
        for subject, items in by_subject.items():
            doc = stored.get(subject) or {}
            marks: dict[str, int] = doc.get("wm") or {}
            ids = set(unpack("q", doc.get("ids")))
            state = state_of(doc.get("st"))
            customer = customer_of(subject, doc.get("cu"))
            new: list[dict[str, Any]] = []
            moved: dict[str, int] = {}
            for a in items:
                if a.position is not None:
                    slot = _slot(a.position[0])
                    moved[slot] = max(moved.get(slot, -1), a.position[1])
                    if a.position[1] <= marks.get(slot, -1):
                        continue
                key = digest(a.fact["_id"])
                if key in ids:
                    continue
                ids.add(key)
                new.append(a.fact)
                changes.append((a.position, state.apply(a.fact)))
                if a.fact["kind"] != SPEND:
                    customer = customer or Customer(subject)
                    customer.add(a.fact)
                months[month_key(subject, month_of(a.fact["at"]))].append(_stored(a.fact))
            moved = {s: o for s, o in moved.items() if o > marks.get(s, -1)}
            if not new and not moved:
                continue
            rev = ObjectId()
            update: dict[str, Any] = {"$set": {"rev": rev}}
            written = {**doc, "_id": subject, "rev": rev, "wm": marks | moved}
            if moved:
                update["$set"] |= {f"wm.{s}": o for s, o in moved.items()}
            if new:
                summary = {
                    "st": state_doc(state),
                    "cu": customer_doc(customer),
                    "months": sorted(set(doc.get("months") or []) | {month_of(f["at"]) for f in new}),
                    "ids": pack("q", ids),
                }
                update["$set"] |= summary
                latest = max(f["at"] for f in new)
                update["$max"] = {"last_at": latest}
                written |= summary | {"last_at": max(latest, doc.get("last_at") or latest)}
                if customer is not None:
                    touched[subject] = customer
            after[subject] = written
            # only the document as read: another consumer (this partition after a rebalance, or another topic's
            # consumer with events of the same person) may have written it meanwhile, or an erasure deleted it (which
            # must not bring it back: only a person not stored when read is inserted)
            guard = {"_id": subject, "rev": doc.get("rev", ABSENT)}
            people.append(UpdateOne(guard, update, upsert=subject not in stored))

        months_written = _write(
            self.months,
            [
                UpdateOne(
                    {"_id": key},
                    {
                        "$addToSet": {"facts": {"$each": entries}},
                        "$max": {"last_at": max(f["at"] for f in entries)},
                        "$setOnInsert": {"subject": key.rsplit("|", 1)[0]},
                    },
                    upsert=True,
                )
                for key, entries in months.items()
            ],
        )

        async def write() -> None:
            # months and days are written together (the store serves two collections at once), people after both
            await _all(months_written, self._roll_up(changes))
            await _write(self.people, people)

        try:
            await (_all(write(), beside(touched)) if beside is not None and touched else write())
        except BaseException:
            self._forget(by_subject)  # held documents may be what another writer changed: read them afresh
            raise
        self._remember(after)
        return touched, len(changes)

    def _remember(self, docs: dict[str, Document]) -> None:
        if not self._hold:
            return
        for subject, doc in docs.items():
            self._held[subject] = doc
            self._held.move_to_end(subject)
        while len(self._held) > self._hold:
            self._held.popitem(last=False)

    def _forget(self, subjects: Iterable[str]) -> None:
        for s in subjects:
            self._held.pop(s, None)

    async def _summaries(self, subjects: list[str]) -> dict[str, Document]:
        """The people's documents without their facts; any still holding facts inline, or holding a summary of an
        older version, is upgraded first."""
        stored = {d["_id"]: d async for d in find_by_ids(self.people, subjects, {"facts": 0})}
        old = [s for s, d in stored.items() if "st" not in d]
        if old:
            await self.upgrade(old)
        stale = [s for s, d in stored.items() if "st" in d and _stale(d)]
        if stale:
            await self._rebuild([stored[s] for s in stale])
        if old or stale:
            stored |= {d["_id"]: d async for d in find_by_ids(self.people, old + stale, {"facts": 0})}
        return stored

    async def _rebuild(self, docs: list[Document]) -> int:
        """Write the summaries of `docs` (people documents of an older summary version) again from the facts they
        have applied (their `ids`: a fact in a month whose person write never happened is left to its redelivery).
        Only a document still as read is rewritten, so a batch writing the person meanwhile loses nothing."""
        wanted = {d["_id"]: set(unpack("q", d.get("ids"))) for d in docs}
        self._forget(wanted)
        facts = await self.of_subjects(list(wanted))
        ops = []
        for d in docs:
            applied = [f for f in facts.get(d["_id"], []) if digest(f["_id"]) in wanted[d["_id"]]]
            guard = {"_id": d["_id"], "ids": d.get("ids"), "cu.v": (d.get("cu") or {}).get("v", ABSENT)}
            summary = customer_doc(customers_from(applied).get(d["_id"]))
            ops.append(UpdateOne(guard, {"$set": {"cu": summary, "rev": ObjectId()}}))
        if not ops:
            return 0
        return int((await self.people.bulk_write(ops, ordered=False)).modified_count)

    async def upgrade(self, subjects: list[str] | None = None, chunk: int = 500) -> int:
        """Move facts held inline (documents written before summaries existed) to their months and write the summary:
        `subjects`, or every such person. Safe to repeat and to run beside ingestion: a month is only created here,
        never overwritten, and the person is rewritten only while it still holds its facts inline."""
        query: dict[str, Any] = {"facts": {"$exists": True}}
        if subjects is not None:
            query["_id"] = {"$in": subjects}
        return await _in_chunks(self.people.find(query, {"facts": 1}, batch_size=chunk), chunk, self._upgrade)

    async def refresh(self, chunk: int = 500) -> int:
        """Rebuild every summary of an older version (`_rebuild`); safe to repeat and to run beside ingestion."""
        docs = self.people.find({"st": {"$exists": True}}, {"ids": 1, "cu.v": 1}, batch_size=BATCH)
        return await _in_chunks((d async for d in docs if _stale(d)), chunk, self._rebuild)

    async def _upgrade(self, docs: list[Document]) -> int:
        self._forget(d["_id"] for d in docs)
        months: list[UpdateOne] = []
        people: list[UpdateOne] = []
        for doc in docs:
            subject = doc["_id"]
            own = sorted((_as_fact(subject, f) for f in doc.get("facts") or []), key=lambda f: f["at"])
            by_month: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for f in own:
                by_month[month_of(f["at"])].append(_stored(f))
            months += [
                UpdateOne(
                    {"_id": month_key(subject, m)},
                    {"$setOnInsert": {"subject": subject, "facts": entries, "last_at": max(f["at"] for f in entries)}},
                    upsert=True,
                )
                for m, entries in by_month.items()
            ]
            summary = {
                "ids": pack("q", {digest(f["_id"]) for f in own}),
                "st": state_doc(CustomerState.of(own)),
                "cu": customer_doc(customers_from(own).get(subject)),
                "months": sorted(by_month),
            }
            people.append(
                UpdateOne(
                    {"_id": subject, "facts": {"$exists": True}},
                    {"$set": {**summary, "rev": ObjectId()}, "$unset": {"facts": ""}},
                )
            )
        if months:
            await self.months.bulk_write(months, ordered=False)
        result = await self.people.bulk_write(people, ordered=False)
        return int(result.modified_count)

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
        return (await self.of_subjects([subject])).get(subject, [])

    async def of_subjects(self, subjects: list[str]) -> dict[str, list[dict[str, Any]]]:
        """Each person's facts, oldest first (read from their months, found by `_id`)."""
        out: dict[str, list[dict[str, Any]]] = defaultdict(list)
        keys = []
        async for d in find_by_ids(self.people, subjects, {"months": 1, "facts": 1}):
            keys += [month_key(d["_id"], m) for m in d.get("months") or []]
            out[d["_id"]] += [_as_fact(d["_id"], f) for f in d.get("facts") or []]  # not upgraded yet
        async for m in find_by_ids(self.months, keys):
            out[m["subject"]] += [_as_fact(m["subject"], f) for f in m.get("facts") or []]
        return {s: sorted(fs, key=lambda f: f["at"]) for s, fs in out.items()}

    async def customers(self, size: int = 1000) -> AsyncIterator[dict[str, Customer]]:
        """Every customer's summary, `size` documents at a time (campaigns have none; a document without a summary
        yet is upgraded on the way)."""
        docs: list[Document] = []
        async for d in self.people.find({}, {"cu": 1}, batch_size=BATCH):
            docs.append(d)
            if len(docs) == size:
                yield await self._customers_of(docs)
                docs = []
        if docs:
            yield await self._customers_of(docs)

    async def _customers_of(self, docs: list[Document]) -> dict[str, Customer]:
        # campaigns hold `cu: None`; older documents no `cu` at all, or a summary of an older version
        old = [d["_id"] for d in docs if "cu" not in d or _stale(d)]
        upgraded = await self._summaries(old) if old else {}
        out = {}
        for d in docs:
            if (c := customer_of(d["_id"], upgraded.get(d["_id"], d).get("cu"))) is not None:
                out[d["_id"]] = c
        return out

    async def members(self, subjects: list[str]) -> list[Member]:
        """What a segment's KPIs read of each of `subjects` who has a summary (`domain.kpis.Member`)."""
        # a few queries at once: 0.42-0.55 s for 17,067 members, against 0.68-0.84 s one query after the other
        docs = {d["_id"]: d for d in await find_all_by_ids(self.people, subjects, {"cu": 1, "st.msgs": 1})}
        stale = [s for s, d in docs.items() if "st" not in d or _stale(d)]
        if stale:  # documents not yet upgraded: upgraded now
            docs |= await self._summaries(stale)
        return [
            Member(c, unpack("q", d["st"]["msgs"]))
            for s, d in docs.items()
            if (c := customer_of(s, d.get("cu"))) is not None
        ]

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

    async def histories(self, end: datetime, size: int = 1000) -> AsyncIterator[dict[str, list[dict[str, Any]]]]:
        """Each person's facts before `end`, oldest first, `size` people at a time (campaigns left out): what the
        periodic evaluation and the journey funnel read, so that only one chunk of facts is in memory at once."""
        last = month_of(end)
        docs: list[Document] = []

        async def chunk() -> dict[str, list[dict[str, Any]]]:
            out: dict[str, list[dict[str, Any]]] = defaultdict(list)
            keys = [month_key(d["_id"], m) for d in docs for m in d.get("months") or [] if m <= last]
            for d in docs:
                out[d["_id"]] += [_as_fact(d["_id"], f) for f in d.get("facts") or [] if f["at"] < end]  # not upgraded
            async for m in find_by_ids(self.months, keys):
                out[m["subject"]] += [_as_fact(m["subject"], f) for f in m.get("facts") or [] if f["at"] < end]
            return {
                s: sorted(fs, key=lambda f: f["at"])
                for s, fs in out.items()
                if fs and any(f["kind"] != SPEND for f in fs)
            }

        async for d in self.people.find({}, {"months": 1, "facts": 1}, batch_size=BATCH):
            docs.append(d)
            if len(docs) == size:
                yield await chunk()
                docs = []
        if docs:
            yield await chunk()

    async def until(self, end: datetime) -> list[dict[str, Any]]:
        """Every fact before `end`, campaigns' included, all at once (tests; the service reads `histories`)."""
        last = month_of(end)
        out = [
            _as_fact(m["subject"], f)
            async for m in self.months.find({}, batch_size=BATCH)
            if m["_id"].rsplit("|", 1)[1] <= last
            for f in m.get("facts") or []
            if f["at"] < end
        ]
        async for d in self.people.find({"facts": {"$exists": True}}, {"facts": 1}, batch_size=100):  # not upgraded yet
            out += [_as_fact(d["_id"], f) for f in d["facts"] if f["at"] < end]
        return out

    async def erase_subject(self, subject: str) -> int:
        """The person's facts and summary go; the daily totals they were counted in stay (they hold no one's data)."""
        self._forget([subject])
        doc = await self.people.find_one_and_delete({"_id": subject})  # FerretDB v1 takes no projection here
        if doc is None:
            return 0
        keys = [month_key(subject, m) for m in doc.get("months") or []]
        erased = len(doc.get("facts") or [])
        erased += sum([len(m.get("facts") or []) async for m in find_by_ids(self.months, keys, {"facts.id": 1})])
        if keys:
            await self.months.delete_many({"_id": {"$in": keys}})
        return erased


# Summaries pack their lists into binary fields (little-endian arrays): a document of a few fields, whatever the
# number of facts, is quick to read and rewrite for the store and the driver alike.
def state_doc(state: CustomerState) -> dict[str, Any]:
    msgs = state.email_days()
    return {
        "paid": pack("i", (d.toordinal() for d in state.paid_days)),
        "leads": pack("i", (d.toordinal() for d in state.lead_days)),
        "first_lead": state.first_lead,
        "won": state.won,
        "msgs": pack("q", msgs),
    }


def state_of(doc: dict[str, Any] | None) -> CustomerState:
    if not doc:
        return CustomerState()

    def day(ordinal: int) -> date | None:
        return None if ordinal == 0 else date.fromordinal(ordinal)

    msgs = unpack("q", doc["msgs"])
    return CustomerState(
        paid_days=[date.fromordinal(d) for d in unpack("i", doc["paid"])],
        lead_days=[date.fromordinal(d) for d in unpack("i", doc["leads"])],
        first_lead=doc.get("first_lead"),
        won=list(doc["won"]),
        messages={
            msgs[i]: Message(day(msgs[i + 1]), day(msgs[i + 2]), day(msgs[i + 3])) for i in range(0, len(msgs), 4)
        },
    )


def customer_doc(c: Customer | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {
        "v": SUMMARY_VERSION,
        "paid_ms": pack("q", c.paid_ms),
        "paid_amounts": pack("d", c.paid_amounts),
        "last": c.last_activity,
        "engaged": c.engaged,
        "refs": c.referrals,
        "nps": c.best_nps,
        # kinds hold dots, so not field names; and no arrays of arrays, which FerretDB v1 refuses
        "times": [{"k": kind, "b": pack("q", times)} for kind, times in c.times.items()],
        "values": [{"k": kind, "b": pack("d", values)} for kind, values in c.values.items()],
    }


def _packed(items: list[Any]) -> list[tuple[str, bytes]]:
    """(kind, packed) of a summary's `times` or `values`: documents, or pairs as written before."""
    return [(i["k"], i["b"]) if isinstance(i, dict) else (i[0], i[1]) for i in items]


def _stale(doc: Document) -> bool:
    """A person whose summary predates the current version (campaigns, `cu: None`, have none to be stale)."""
    cu = doc.get("cu")
    return cu is not None and cu.get("v") != SUMMARY_VERSION


def customer_of(subject: str, doc: dict[str, Any] | None) -> Customer | None:
    if not doc:
        return None
    c = Customer(
        subject,
        last_activity=doc.get("last"),
        engaged=bool(doc.get("engaged")),
        referrals=int(doc.get("refs") or 0),
        best_nps=doc.get("nps"),
        times={kind: unpack("q", packed) for kind, packed in _packed(doc.get("times") or [])},
        values={kind: unpack("d", packed) for kind, packed in _packed(doc.get("values") or [])},
    )
    c.paid_ms, c.paid_amounts = unpack("q", doc["paid_ms"]), unpack("d", doc["paid_amounts"])
    return c


def _stored(fact: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in fact.items() if k not in ("_id", "subject") and v is not None}
    out["id"] = fact["_id"]
    return out


def _as_fact(subject: str, stored: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in stored.items() if k != "id"}
    out["_id"], out["subject"] = stored["id"], subject
    return out


async def _in_chunks(
    docs: AsyncIterator[Document], chunk: int, handle: Callable[[list[Document]], Coroutine[Any, Any, int]]
) -> int:
    """`handle` each `chunk` of `docs` in turn; the sum of what it answered."""
    done = 0
    batch: list[Document] = []
    async for doc in docs:
        batch.append(doc)
        if len(batch) == chunk:
            done += await handle(batch)
            batch = []
    if batch:
        done += await handle(batch)
    return done


async def _all(*steps: Coroutine[Any, Any, None]) -> None:
    """Run `steps` concurrently; once all have finished, raise the first failure (so none is left running)."""
    results = await asyncio.gather(*steps, return_exceptions=True)
    for r in results:
        if isinstance(r, BaseException):
            raise r


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
