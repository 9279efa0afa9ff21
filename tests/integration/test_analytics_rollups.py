"""Analytics facts, summaries and daily roll-ups against the real store: a batch counts once however it is
redelivered (the same batch again, a crash after the months or after the days, a redelivery cut at other offsets),
two consumers racing on one partition cannot both count it, each person's stored summary equals the one built from
all their facts, the KPI inputs read from the stored days equal the ones counted from the facts, and documents
written before summaries existed are upgraded without losing a fact."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from typing import Any

import pytest
from cdp_analytics.adapters import facts as facts_module
from cdp_analytics.adapters.facts import Arrival, Contended, Facts
from cdp_analytics.domain.customers import customers_from
from cdp_analytics.domain.kpis import Period, tally, tally_of_days, tally_of_members
from cdp_analytics.domain.rollups import roll_up
from cdp_common.store import Document
from pymongo.asynchronous.database import AsyncDatabase

from tests.unit.analytics.test_rollups import history, same, strip

pytestmark = pytest.mark.integration

PARTITIONS = 3


def arrivals(facts: list[dict[str, Any]], topic: str = "cdp.interactions.v1") -> list[Arrival]:
    """As Kafka delivers them: each person on one partition, offsets rising per partition."""
    offsets = [0] * PARTITIONS
    out = []
    for f in facts:
        p = hash(f["subject"]) % PARTITIONS
        out.append(Arrival(f, (f"{topic}:{p}", offsets[p])))
        offsets[p] += 1
    return out


async def stored_days(facts: Facts) -> dict[str, dict[str, Any]]:
    return {d["_id"]: d async for d in facts.days.find({}, {"wm": 0})}


async def stored_facts(facts: Facts) -> list[dict[str, Any]]:
    return await facts.until(datetime(2100, 1, 1, tzinfo=UTC))


def batches(items: list[Arrival], size: int) -> list[list[Arrival]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


async def test_each_event_counts_once_through_redeliveries_and_crashes(
    db: AsyncDatabase[Document], monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(5)
    facts_in = history(rng, people=25, events=900, days=700)
    items = arrivals(facts_in)
    facts = Facts(db)

    # first pass: batches of 100, each delivered twice
    for batch in batches(items[:400], 100):
        await facts.record_batch(batch)
        assert await facts.record_batch(batch) == {}

    # a crash after the months were written and before the days were; then, redelivered further, a crash after the
    # days and before the people
    real_write = facts_module._write
    for collection_name, batch in (("kpi_days", items[400:500]), ("activity", items[400:600])):

        async def crash_on(collection: Any, ops: list[Any], name: str = collection_name) -> None:
            if collection.name == name:
                raise ConnectionError("the consumer died here")
            await real_write(collection, ops)

        monkeypatch.setattr(facts_module, "_write", crash_on)
        with pytest.raises(ConnectionError):
            await facts.record_batch(batch)
        monkeypatch.setattr(facts_module, "_write", real_write)

    # the redelivery is cut at other offsets: smaller batches, then one reaching past the crashed one
    for batch in batches(items[400:550], 30):
        await facts.record_batch(batch)
    await facts.record_batch(items[550:750])
    await facts.record_batch(items[750:])

    assert sorted(f["_id"] for f in await stored_facts(facts)) == sorted(f["_id"] for f in facts_in)
    assert strip(await stored_days(facts)) == strip(roll_up(facts_in))
    expected = customers_from(facts_in)
    assert {s: await facts.customer(s) for s in expected} == expected
    summaries: dict[str, Any] = {}
    async for chunk in facts.customers(size=7):
        summaries |= chunk
    assert summaries == expected


async def test_a_re_published_event_counts_once(db: AsyncDatabase[Document]) -> None:
    facts = Facts(db)
    paid = {"_id": "e1", "kind": "order.paid", "subject": "c1", "at": datetime(2026, 3, 1, tzinfo=UTC), "amount": 5.0}
    await facts.record_batch([Arrival(paid, ("t:0", 10))])
    assert await facts.record_batch([Arrival(paid, ("t:0", 11))]) == {}  # the same event id at a new offset
    days = await stored_days(facts)
    assert days["2027-03-01"]["cov_end"] == 1  # the covered year ends
    day = days["2026-03-01"]
    assert day["paid_orders"] == 1 and day["paid_revenue"] == 5.0 and day["first_paid"] == 1


async def test_two_consumers_racing_on_one_partition_count_once(db: AsyncDatabase[Document]) -> None:
    rng = random.Random(9)
    facts_in = history(rng, people=10, events=300, days=400)
    items = arrivals(facts_in)
    a, b = Facts(db), Facts(db)
    for batch in batches(items, 60):
        results = await asyncio.gather(a.record_batch(batch), b.record_batch(batch), return_exceptions=True)
        for r in results:
            assert not isinstance(r, Exception) or isinstance(r, Contended), r
        if all(isinstance(r, Exception) for r in results):  # both lost a race: the redelivery applies it
            await a.record_batch(batch)
    assert sorted(f["_id"] for f in await stored_facts(a)) == sorted(f["_id"] for f in facts_in)
    assert strip(await stored_days(a)) == strip(roll_up(facts_in))


async def test_consumers_of_two_topics_writing_one_person_lose_nothing(db: AsyncDatabase[Document]) -> None:
    """A person's events arrive on two topics (contact events, interactions), each read by its own consumer: both
    read the person, both write; the second write must not overwrite the first (it is redelivered instead). The days
    stay right too: a contact's creation changes them the same whatever else the person did."""
    rng = random.Random(10)
    facts_in = history(rng, people=6, events=400, days=400)
    facts_in += [
        {"_id": f"created-{i}-{n}", "kind": "contact_created", "subject": f"c{i}", "at": f["at"]}
        for n, f in enumerate(facts_in[:120])
        for i in [n % 6]
    ]
    first = [f for f in facts_in if f["kind"] == "contact_created"]
    second = [f for f in facts_in if f["kind"] != "contact_created"]

    async def consume(facts: Facts, items: list[Arrival]) -> int:
        redelivered = 0
        for batch in batches(items, 20):
            while True:
                try:
                    await facts.record_batch(batch)
                    break
                except Contended:
                    redelivered += 1
        return redelivered

    a, b = Facts(db), Facts(db)
    await asyncio.gather(consume(a, arrivals(first, "cdp.contacts.v1")), consume(b, arrivals(second)))
    expected = customers_from(facts_in)
    for subject, customer in expected.items():
        assert await a.customer(subject) == customer, subject
    assert strip(await stored_days(a)) == strip(roll_up(facts_in))


async def test_a_person_held_in_memory_and_changed_elsewhere_is_read_afresh(db: AsyncDatabase[Document]) -> None:
    """Replica a holds p's document as it wrote it; replica b (p's partition after a rebalance) writes p; a's next
    batch must not write over b's: it fails, and its redelivery reads p from the store."""
    a, b = Facts(db), Facts(db)
    at = datetime(2026, 3, 1, tzinfo=UTC)
    first = {"_id": "e1", "kind": "order.paid", "subject": "p", "at": at, "amount": 10.0}
    second = {"_id": "e2", "kind": "order.paid", "subject": "p", "at": at.replace(day=2), "amount": 20.0}
    third = {"_id": "e3", "kind": "web.visited", "subject": "p", "at": at.replace(day=3)}
    await a.record_batch([Arrival(first, ("cdp.interactions.v1:0", 0))])
    await b.record_batch([Arrival(second, ("cdp.interactions.v1:0", 1))])
    with pytest.raises(Contended):
        await a.record_batch([Arrival(third, ("cdp.interactions.v1:0", 2))])
    await a.record_batch([Arrival(third, ("cdp.interactions.v1:0", 2))])  # the redelivery
    assert await a.customer("p") == customers_from([first, second, third])["p"]
    # and a held document is used: a batch for p reads nothing of p from the store
    reads = 0
    find = a.people.find

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal reads
        reads += 1
        return find(*args, **kwargs)

    a.people.find = counting  # type: ignore[method-assign]
    fourth = {"_id": "e4", "kind": "web.visited", "subject": "p", "at": at.replace(day=4)}
    await a.record_batch([Arrival(fourth, ("cdp.interactions.v1:0", 3))])
    assert reads == 0
    a._forget(["p"])
    fifth = {"_id": "e5", "kind": "web.visited", "subject": "p", "at": at.replace(day=5)}
    await a.record_batch([Arrival(fifth, ("cdp.interactions.v1:0", 4))])
    assert reads > 0  # not held: read from the store
    assert await b.customer("p") == customers_from([first, second, third, fourth, fifth])["p"]


async def test_an_erasure_between_the_read_and_the_write_is_not_undone(
    db: AsyncDatabase[Document], monkeypatch: pytest.MonkeyPatch
) -> None:
    facts = Facts(db)
    old = {"_id": "e-old", "kind": "order.paid", "subject": "p", "at": datetime(2026, 1, 5, tzinfo=UTC), "amount": 9.0}
    new = {"_id": "e-new", "kind": "web.visited", "subject": "p", "at": datetime(2026, 2, 5, tzinfo=UTC)}
    await facts.record_batch([Arrival(old, ("cdp.interactions.v1:0", 0))])
    read = facts._summaries

    async def read_then_erased(subjects: list[str]) -> dict[str, Document]:
        stored = await read(subjects)
        await facts.erase_subject("p")  # the privacy request lands while the batch is being applied
        return stored

    monkeypatch.setattr(facts, "_summaries", read_then_erased)
    with pytest.raises(Contended):
        await facts.record_batch([Arrival(new, ("cdp.interactions.v1:0", 1))])
    monkeypatch.undo()
    assert await facts.customer("p") is None  # the erased summary was not written back
    await facts.record_batch([Arrival(new, ("cdp.interactions.v1:0", 1))])  # the redelivery
    assert [f["_id"] for f in await facts.of_subject("p")] == ["e-new"]
    assert (await facts.customer("p")) == customers_from([new])["p"]


async def test_kpi_inputs_from_stored_days_equal_inputs_from_facts(db: AsyncDatabase[Document]) -> None:
    rng = random.Random(12)
    facts_in = history(rng, people=40, events=1_200, days=900)
    facts = Facts(db)
    for batch in batches(arrivals(facts_in), 250):
        await facts.record_batch(batch)
    for p in [
        Period(datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)),
        Period(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 4, 1, tzinfo=UTC)),
        Period(datetime(2023, 2, 1, tzinfo=UTC), datetime(2025, 6, 1, tzinfo=UTC)),
    ]:
        known = [f for f in facts_in if f["at"] < p.end]
        assert same(tally(known, p), tally_of_days(await facts.day_documents(p.end), p))


async def test_documents_holding_facts_inline_are_upgraded(db: AsyncDatabase[Document]) -> None:
    """A person document as written before summaries existed (every fact inline, ids and offsets beside them)."""
    rng = random.Random(21)
    facts_in = [f for f in history(rng, people=2, events=120, days=400) if f["subject"] in ("c0", "c1")]
    items = arrivals(facts_in)
    old, later = items[:60], items[60:]
    for subject in ("c0", "c1"):
        own = [a for a in old if a.fact["subject"] == subject]
        marks: dict[str, int] = {}
        for a in own:
            assert a.position is not None
            slot = a.position[0].replace(".", "_")
            marks[slot] = max(marks.get(slot, -1), a.position[1])
        inline = [
            {**{k: v for k, v in a.fact.items() if k not in ("_id", "subject")}, "id": a.fact["_id"]} for a in own
        ]
        await db["activity"].insert_one({"_id": subject, "wm": marks, "facts": inline, "last_at": own[-1].fact["at"]})
    facts = Facts(db)
    assert sorted(f["_id"] for f in await facts.of_subject("c1")) == sorted(
        a.fact["_id"] for a in old if a.fact["subject"] == "c1"
    )

    # c0 is upgraded by the first batch that touches it, which also replays the old offsets
    await facts.record_batch([a for a in items if a.fact["subject"] == "c0"])
    c0 = [f for f in facts_in if f["subject"] == "c0"]
    assert sorted(f["_id"] for f in await facts.of_subject("c0")) == sorted(f["_id"] for f in c0)
    assert await facts.customer("c0") == customers_from(c0)["c0"]
    assert "facts" not in (await db["activity"].find_one({"_id": "c0"}) or {})

    # c1 by the upgrade of everything left, then its later facts arrive
    assert await facts.upgrade() == 1
    assert await facts.upgrade() == 0
    await facts.record_batch([a for a in later if a.fact["subject"] == "c1"])
    c1 = [f for f in facts_in if f["subject"] == "c1"]
    assert sorted(f["_id"] for f in await facts.of_subject("c1")) == sorted(f["_id"] for f in c1)
    assert await facts.customer("c1") == customers_from(c1)["c1"]
    assert sorted(f["_id"] for f in await stored_facts(facts)) == sorted(f["_id"] for f in facts_in)

    # erasure takes every month of the person
    assert await facts.erase_subject("c1") == len(c1)
    assert await facts.of_subject("c1") == [] and await facts.customer("c1") is None
    assert [d async for d in db["activity_months"].find({"subject": "c1"})] == []


async def test_a_segments_kpi_inputs_from_stored_summaries_equal_inputs_from_its_facts(
    db: AsyncDatabase[Document],
) -> None:
    rng = random.Random(13)
    facts_in = history(rng, people=40, events=1_200, days=900)
    facts = Facts(db)
    for batch in batches(arrivals(facts_in), 250):
        await facts.record_batch(batch)
    segment = [f"c{i}" for i in range(0, 40, 3)] + ["c-nobody"]
    members = await facts.members(segment)
    assert len(members) == 14  # the one without a summary is left out
    for p in [
        Period(datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)),
        Period(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 4, 1, tzinfo=UTC)),
        Period(datetime(2023, 2, 1, tzinfo=UTC), datetime(2025, 6, 1, tzinfo=UTC)),
    ]:
        known = [f for f in facts_in if f["at"] < p.end and f["subject"] in segment]
        assert same(tally(known, p), tally_of_members(members, p))


async def test_summaries_of_an_older_version_are_rebuilt_from_the_facts_they_applied(
    db: AsyncDatabase[Document],
) -> None:
    rng = random.Random(22)
    facts_in = [f for f in history(rng, people=3, events=150, days=400) if f["subject"] in ("c0", "c1", "c2")]
    facts = Facts(db)
    await facts.record_batch(arrivals(facts_in))
    # as version 1 wrote them: no version, no values, none of the derived kinds the KPIs read
    for subject in ("c0", "c1", "c2"):
        doc = await db["activity"].find_one({"_id": subject})
        assert doc is not None
        times = [t for t in doc["cu"]["times"] if t["k"] not in ("order.paid_from_campaign", "survey.csat")]
        await db["activity"].update_one(
            {"_id": subject}, {"$unset": {"cu.v": "", "cu.values": ""}, "$set": {"cu.times": times}}
        )
    # a fact in a month whose person write never happened (a crash in between): not applied, so not counted
    stray = {"id": "stray", "kind": "order.paid", "at": datetime(2024, 2, 2, tzinfo=UTC), "amount": 5.0}
    await db["activity_months"].update_one({"_id": "c0|2024-02"}, {"$push": {"facts": stray}}, upsert=True)

    own = {s: [f for f in facts_in if f["subject"] == s] for s in ("c0", "c1", "c2")}
    assert await facts.customer("c0") == customers_from(own["c0"])["c0"]  # rebuilt when first read
    # a document changed after it was read is not overwritten
    c1 = await db["activity"].find_one({"_id": "c1"})
    assert c1 is not None
    await db["activity"].update_one({"_id": "c1"}, {"$set": {"ids": b"changed"}})
    assert await facts._rebuild([c1]) == 0
    await db["activity"].update_one({"_id": "c1"}, {"$set": {"ids": c1["ids"]}})

    assert await facts.refresh() == 2  # c1 and c2
    assert await facts.refresh() == 0
    for s in ("c1", "c2"):
        assert await facts.customer(s) == customers_from(own[s])[s]


async def test_a_retention_period_drops_old_months_and_silent_people(db: AsyncDatabase[Document]) -> None:
    from cdp_analytics.bootstrap import FACT_RETENTION
    from cdp_common.retention import RetentionJob

    now = datetime(2026, 6, 15, tzinfo=UTC)
    facts = Facts(db)
    await facts.record("old-1", "web.visited", "silent", datetime(2024, 1, 10, tzinfo=UTC))
    await facts.record("old-2", "order.paid", "active", datetime(2024, 2, 10, tzinfo=UTC), amount=10.0)
    await facts.record("new-1", "order.paid", "active", datetime(2026, 5, 10, tzinfo=UTC), amount=20.0)

    deleted = await RetentionJob(list(FACT_RETENTION), {"facts": 365}).run(db, now)

    assert deleted == {"facts": 3}  # the silent person's summary and month, the active person's old month
    assert await facts.of_subject("silent") == [] and await facts.customer("silent") is None
    assert [f["_id"] for f in await facts.of_subject("active")] == ["new-1"]
