"""Matching against the real store and broker: reordered and unaccented Vietnamese names with a phone in another
format join one person with explained evidence; conflicts and bridges go to review; a merge and its undo move
records back exactly; two consumers of one group working through many duplicates at once create one person each."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from cdp_common.contracts import REGISTRY
from cdp_common.contracts.identity import SourceAttributes, SourceRecordObserved
from cdp_common.events import EventEnvelope, make_event
from cdp_common.messaging import BatchEventConsumer, Delivery, Inbox, make_broker, subscribe_batch
from cdp_common.store import Document
from cdp_identity.adapters.graph import IdentityGraph, profile_slot
from cdp_identity.service_layer.handlers import on_records_observed
from cdp_identity.service_layer.matching import Observed, handle_observed, handle_observed_many, merge_persons
from pymongo.asynchronous.database import AsyncDatabase

from bench.people import person, phone_as_typed
from tests.support.infra import Infra
from tests.support.kafka import eventually, private_topics, produce

pytestmark = pytest.mark.integration
T = datetime(2026, 11, 1, tzinfo=UTC)


class Recorder:
    def __init__(self) -> None:
        self.events: list[EventEnvelope] = []

    async def publish(self, topic: str, event: EventEnvelope) -> None:
        self.events.append(event)

    async def publish_many(self, items: list[tuple[str, EventEnvelope]]) -> None:
        self.events += [e for _, e in items]


def observed(source: str, rid: str, **attrs: Any) -> tuple[EventEnvelope, SourceRecordObserved]:
    ext = attrs.pop("ext", {})
    o = SourceRecordObserved(
        source=source, record_id=rid, observed_at=T, external_ids=ext, attributes=SourceAttributes.model_validate(attrs)
    )
    return make_event(
        source=f"integration/{source}", event_type="identity.record_observed", subject=f"{source}:{rid}", data=o
    ), o


async def feed(graph: IdentityGraph, rec: Recorder, source: str, rid: str, **attrs: Any) -> Any:
    e, o = observed(source, rid, **attrs)
    return await handle_observed(e, o, graph, rec)  # type: ignore[arg-type]


class TestMatching:
    async def test_one_person_from_three_channels_with_evidence(self, db: AsyncDatabase[Document]) -> None:
        graph, rec = IdentityGraph(db), Recorder()
        a = await feed(
            graph,
            rec,
            "shop-till",
            "1",
            full_name="Nguyễn Văn An",
            phones=["0912 345 678"],
            birth_date=date(1990, 5, 6),
        )
        b = await feed(
            graph,
            rec,
            "ecommerce",
            "u9",
            full_name="An Nguyen Van",
            phones=["+84912345678"],
            birth_date=date(1990, 5, 6),
            emails=["an.nguyen+shop@gmail.com"],
        )
        c = await feed(graph, rec, "contest", "e3", full_name="Nguyen Van An", emails=["annguyen@gmail.com"])
        assert a.new_person and not b.new_person and not c.new_person
        assert a.person_id == b.person_id == c.person_id
        linked = [e for e in rec.events if e.type == "identity.record_linked"]
        assert [e.data["new_person"] for e in linked] == [True, False, False]
        evidence = {x["field"]: x["comparison"] for x in linked[1].data["evidence"]}
        assert evidence["phone"] == "exact" and evidence["name"] == "accent-folded (token set)"
        # a redelivered record changes nothing
        again = await feed(graph, rec, "ecommerce", "u9", full_name="An Nguyen Van", phones=["+84912345678"])
        assert again.person_id == a.person_id
        assert len((await graph.person(a.person_id) or {})["records"]) == 3

    async def test_conflicting_customer_numbers_go_to_review(self, db: AsyncDatabase[Document]) -> None:
        graph, rec = IdentityGraph(db), Recorder()
        first = await feed(
            graph,
            rec,
            "pos",
            "1",
            full_name="Lý Thị Mai",
            emails=["mai@x.vn"],
            birth_date=date(1985, 1, 2),
            ext={"customer_number": "C-1"},
        )
        second = await feed(
            graph,
            rec,
            "pos",
            "2",
            full_name="Lý Thị Mai",
            emails=["mai@x.vn"],
            birth_date=date(1985, 1, 2),
            ext={"customer_number": "C-2"},
        )
        assert second.new_person and second.person_id != first.person_id
        review = [e for e in rec.events if e.type == "identity.review_needed"]
        assert review and review[0].data["candidate_person_ids"] == [first.person_id]
        assert "customer_number" in review[0].data["reason"]

    async def test_a_bridging_record_joins_the_best_person_and_the_other_goes_to_review(
        self, db: AsyncDatabase[Document]
    ) -> None:
        graph, rec = IdentityGraph(db), Recorder()
        by_email = await feed(graph, rec, "shop", "1", full_name="Trần Đức Nam", emails=["nam.tran@x.vn"])
        by_phone = await feed(
            graph, rec, "support", "1", full_name="Nam Tran Duc", phones=["0912 345 678"], birth_date=date(1994, 1, 13)
        )
        assert by_phone.new_person and by_phone.person_id != by_email.person_id  # a name alone never links
        both = await feed(
            graph,
            rec,
            "ecommerce",
            "1",
            full_name="Trần Đức Nam",
            emails=["nam.tran@x.vn"],
            phones=["+84912345678"],
            birth_date=date(1994, 1, 13),
        )
        assert both.bridge and not both.new_person
        # phone, name and birth date outweigh email and name: the best of the two
        assert both.person_id == by_phone.person_id
        review = [e for e in rec.events if e.type == "identity.review_needed"][-1]
        assert review.data["candidate_person_ids"] == [by_email.person_id]
        assert review.data["reason"] == "would join several persons"
        assert both.score is not None and both.score.total > review.data["score"] >= 12
        # nothing was merged: each person keeps its own records
        assert await graph.resolve(by_email.person_id) == by_email.person_id
        assert len((await graph.person(by_phone.person_id) or {})["records"]) == 2
        assert (await graph.person(by_email.person_id) or {})["records"] == ["shop:1"]

    async def test_junk_values_never_link(self, db: AsyncDatabase[Document]) -> None:
        graph, rec = IdentityGraph(db), Recorder()
        a = await feed(
            graph, rec, "contest", "1", full_name="Phạm Minh Tuấn", emails=["test@test.com"], phones=["0000000000"]
        )
        b = await feed(
            graph, rec, "contest", "2", full_name="Hoàng Thu Trang", emails=["test@test.com"], phones=["0000000000"]
        )
        assert a.person_id != b.person_id and b.new_person

    async def test_merge_and_undo_give_back_the_records(self, db: AsyncDatabase[Document]) -> None:
        graph, rec = IdentityGraph(db), Recorder()
        a = await feed(graph, rec, "shop", "1", full_name="Bùi Văn Dũng", phones=["0912000111"])
        b = await feed(graph, rec, "web", "2", full_name="Dung Bui", emails=["dung@x.vn"])
        assert a.person_id != b.person_id
        merge_id = await merge_persons(a.person_id, b.person_id, "lan", graph, rec)  # type: ignore[arg-type]
        assert await graph.resolve(b.person_id) == a.person_id
        assert sorted((await graph.person(a.person_id) or {})["records"]) == ["shop:1", "web:2"]
        m = await graph.undo_merge(merge_id, "lan")
        assert m is not None and await graph.resolve(b.person_id) == b.person_id
        assert (await graph.person(a.person_id) or {})["records"] == ["shop:1"]
        assert (await graph.record("web:2") or {})["person_id"] == b.person_id


async def test_profiles_kept_on_the_person_follow_merges_undos_and_erasure(db: AsyncDatabase[Document]) -> None:
    graph, rec = IdentityGraph(db), Recorder()
    a = await feed(graph, rec, "shop", "1", full_name="Bùi Văn Dũng", phones=["0912000111"])
    b = await feed(graph, rec, "web", "2.x", full_name="Dung Bui", emails=["dung@x.vn"])  # a dot in the key
    slot = profile_slot("web:2.x")
    # matching reads the profiles from the person's own document: the record's document is not needed
    await db["source_records"].update_one({"_id": "web:2.x"}, {"$unset": {"profile": ""}})
    assert [x.emails for x in await graph.profiles_of(b.person_id)] == [frozenset({"dung@x.vn"})]
    await feed(graph, rec, "web", "2.x", full_name="Dung Bui", emails=["dung@x.vn"])  # restores the record
    merge_id = await merge_persons(a.person_id, b.person_id, "lan", graph, rec)  # type: ignore[arg-type]
    # the survivor reads the merged record from the record itself, then keeps it once it is seen again
    assert {x.key for x in await graph.profiles_of(a.person_id)} == {"shop:1", "web:2.x"}
    await feed(graph, rec, "web", "2.x", full_name="Dung Bui", emails=["dung@x.vn"])
    assert slot in (await graph.person(a.person_id) or {})["profiles"]
    await graph.undo_merge(merge_id, "lan")
    assert slot not in (await graph.person(a.person_id) or {})["profiles"]
    assert [x.key for x in await graph.profiles_of(a.person_id)] == ["shop:1"]
    assert [x.key for x in await graph.profiles_of(b.person_id)] == ["web:2.x"]
    # merged again and erased: no person document keeps a profile of the erased person's records
    await merge_persons(a.person_id, b.person_id, "lan", graph, rec)  # type: ignore[arg-type]
    await graph.erase_person(a.person_id)
    assert await graph.person(a.person_id) is None
    assert "profiles" not in (await graph.person(b.person_id) or {})


async def test_claims_go_to_the_first_person_whoever_asks_later(db: AsyncDatabase[Document]) -> None:
    graph = IdentityGraph(db)
    assert await graph.claim_many({"email:a@x.vn": "p1"}) == {"email:a@x.vn": "p1"}
    owners = await graph.claim_many({"email:a@x.vn": "p2", "phone:+84912345678": "p2"})
    assert owners == {"email:a@x.vn": "p1", "phone:+84912345678": "p2"}
    assert await graph.claim_many({"phone:+84912345678": "p2"}) == {"phone:+84912345678": "p2"}  # again: still ours


class TestPollAtATime:
    async def test_a_poll_matched_together_groups_records_as_one_at_a_time_does(
        self, db: AsyncDatabase[Document]
    ) -> None:
        """The same noisy records of 60 people (3-4 each, shuffled) through the one-at-a-time path and through polls
        of 25 matched together, each into its own graph: the same records end up together, and as many reviews
        are opened. Polls hold records of one person side by side, which must wait for each other."""
        rng = random.Random(11)
        items = []
        for i in range(60):
            pp = person(rng, i)
            for k, source in enumerate(("shop-till", "ecommerce", "contest", "support")[: 3 + i % 2]):
                name = pp.full_name if k != 1 else " ".join(reversed(pp.full_name.split()))
                items.append(
                    observed(
                        source,
                        f"{i}-{k}",
                        full_name=name,
                        phones=[phone_as_typed(rng, pp.phone)] if k != 2 else [],
                        emails=[pp.email] if k % 2 == 0 else [],
                        birth_date=pp.birth_date,
                    )
                )
        rng.shuffle(items)

        async def groups(graph: IdentityGraph) -> set[frozenset[str]]:
            by_person: dict[str, set[str]] = {}
            async for d in graph.records.find({}):
                by_person.setdefault(await graph.resolve(d["person_id"]), set()).add(d["_id"])
            return {frozenset(v) for v in by_person.values()}

        one, rec_one = IdentityGraph(db.client[f"{db.name}_one"]), Recorder()
        for e, o in items:
            await handle_observed(e, o, one, rec_one)  # type: ignore[arg-type]
        polled, rec_polled = IdentityGraph(db.client[f"{db.name}_polled"]), Recorder()
        for start in range(0, len(items), 25):
            poll = [Observed(e, o) for e, o in items[start : start + 25]]
            decisions = await handle_observed_many(poll, polled, rec_polled)  # type: ignore[arg-type]
            assert len(decisions) == len(poll)
        try:
            expected = await groups(one)
            assert len(expected) < len(items)  # records did join
            assert await groups(polled) == expected
            assert await polled.reviews.count_documents({}) == await one.reviews.count_documents({})
            linked = [e for e in rec_polled.events if e.type == "identity.record_linked"]
            assert len(linked) == len(items)
            assert sum(e.data["new_person"] for e in linked) == len(expected)
        finally:
            await db.client.drop_database(f"{db.name}_one")
            await db.client.drop_database(f"{db.name}_polled")


class TestConcurrency:
    async def test_two_replicas_with_many_duplicates_create_one_person_each(
        self, infra: Infra, db: AsyncDatabase[Document]
    ) -> None:
        """Every true person arrives 4 times from different sources, all at once, on a 6-partition topic read by
        two consumers of one group: persons created must equal true persons."""
        (topic, dlq) = await private_topics(infra.kafka_bootstrap, "records", "dlq", partitions=6)
        rng = random.Random(3)
        people = [person(rng, i) for i in range(30)]
        records = []
        for i, pp in enumerate(people):
            for k, source in enumerate(("shop-till", "ecommerce", "contest", "support")):
                e, _ = observed(
                    source,
                    f"{i}-{k}",
                    full_name=pp.full_name,
                    phones=[phone_as_typed(rng, pp.phone)],
                    emails=[pp.email] if k % 2 else [],
                    birth_date=pp.birth_date,
                )
                records.append((e.key(), e.model_dump_json().encode()))
        rng.shuffle(records)
        graph, rec = IdentityGraph(db), Recorder()
        group = f"identity-{uuid.uuid4().hex[:6]}"
        brokers = []
        for _ in range(2):
            broker = make_broker(infra.kafka_bootstrap, "test")

            async def on_observed(deliveries: list[Delivery]) -> None:  # as the service: a poll at a time
                records = [(d.envelope, d.payload) for d in deliveries]
                await on_records_observed(records, graph, rec)  # type: ignore[arg-type]

            consumer = BatchEventConsumer(
                group_id=group,
                dead_letter_topic=dlq,
                registry=REGISTRY,
                inbox=Inbox(lambda: db, group),
                publisher_broker=broker,
                types=frozenset({"identity.record_observed"}),
                batch_handler=on_observed,
                use_inbox=True,
                retry_backoff_seconds=0.1,
            )
            subscribe_batch(broker, topic, consumer, title="t", description="d", max_records=20)
            brokers.append(broker)
        await asyncio.gather(*(b.start() for b in brokers))
        try:
            await produce(infra.kafka_bootstrap, topic, records)

            async def all_linked() -> bool:
                return await db.source_records.count_documents({}) == len(records)

            await eventually(all_linked, timeout_s=120)
        finally:
            for b in brokers:
                await b.stop()
        persons = {await graph.resolve(d["person_id"]) async for d in db.source_records.find({})}
        by_person: dict[str, set[str]] = {}
        async for d in db.source_records.find({}):
            by_person.setdefault(await graph.resolve(d["person_id"]), set()).add(d["_id"].split(":")[1].split("-")[0])
        assert len(persons) == len(people), f"{len(persons)} persons for {len(people)} people"
        assert all(len(v) == 1 for v in by_person.values())  # no person holds records of two people
