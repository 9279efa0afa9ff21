"""The consumer conventions against the real broker and store: at-least-once delivery with offsets committed after
the effect, duplicates applied once, poison to the dead-letter topic with its reason while the consumer goes on."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from cdp_common.contracts import REGISTRY
from cdp_common.contracts.contacts import ContactCreated
from cdp_common.events import EventEnvelope, make_event, utcnow
from cdp_common.messaging import EventConsumer, Inbox, make_broker, subscribe
from cdp_common.store import Document
from pymongo.asynchronous.database import AsyncDatabase

from tests.support.infra import Infra
from tests.support.kafka import eventually, private_topics, produce, read_all

pytestmark = pytest.mark.integration


def created(contact_id: str) -> EventEnvelope:
    return make_event(
        source="test",
        event_type="contact.created",
        subject=contact_id,
        data=ContactCreated(contact_id=contact_id, full_name="Lê Thị Hồng", source="staff", created_at=utcnow()),
    )


def record(e: EventEnvelope) -> tuple[bytes, bytes]:
    return e.key(), e.model_dump_json().encode()


Effect = Callable[[EventEnvelope, Any], Awaitable[None]]


@pytest.fixture
async def run_consumer(
    infra: Infra, db: AsyncDatabase[Document]
) -> AsyncIterator[Callable[[str, str, Effect], Awaitable[Any]]]:
    """Starts a real FastStream consumer (one broker per call) on a topic; all are stopped at the end."""
    brokers: list[Any] = []

    async def start(topic: str, dlq: str, effect: Effect) -> Any:
        broker = make_broker(infra.kafka_bootstrap, "test")
        consumer = EventConsumer(
            group_id=f"g-{topic}",
            dead_letter_topic=dlq,
            registry=REGISTRY,
            inbox=Inbox(lambda: db, f"g-{topic}"),
            publisher_broker=broker,
            handlers={"contact.created": effect},
            retry_backoff_seconds=0.2,
        )
        subscribe(broker, topic, consumer, title="t", description="d")
        await broker.start()
        brokers.append(broker)
        return broker

    yield start
    for b in brokers:
        await b.stop()


async def applied_ids(db: AsyncDatabase[Document]) -> list[str]:
    return sorted([d["_id"] async for d in db.effects.find({})])


class TestAtLeastOnceAndIdempotent:
    async def test_duplicates_apply_once_and_effects_survive_a_restart(
        self, infra: Infra, db: AsyncDatabase[Document], run_consumer: Any
    ) -> None:
        topic, dlq = await private_topics(infra.kafka_bootstrap, "events", "dlq")
        calls: list[str] = []

        async def effect(event: EventEnvelope, payload: Any) -> None:
            calls.append(event.id)
            await db.effects.update_one({"_id": event.id}, {"$inc": {"times": 1}}, upsert=True)

        events = [created(f"c{i}") for i in range(20)]
        # every event twice, the second copy after all the firsts
        await produce(infra.kafka_bootstrap, topic, [record(e) for e in events] * 2)
        broker = await run_consumer(topic, dlq, effect)
        await eventually(lambda: _count(db, 20))
        await asyncio.sleep(1.0)
        assert sorted(calls) == sorted(e.id for e in events)
        assert {d["times"] async for d in db.effects.find({})} == {1}
        await broker.stop()

        # A new consumer of the same group starts after the committed offsets: nothing is applied again.
        calls.clear()
        more = created("late")
        await produce(infra.kafka_bootstrap, topic, [record(more)])
        await run_consumer(topic, dlq, effect)
        await eventually(lambda: _count(db, 21))
        await asyncio.sleep(1.0)
        assert calls == [more.id]

    async def test_transient_failure_is_redelivered_not_lost(
        self, infra: Infra, db: AsyncDatabase[Document], run_consumer: Any
    ) -> None:
        topic, dlq = await private_topics(infra.kafka_bootstrap, "events", "dlq")
        failures = {"left": 3}

        async def effect(event: EventEnvelope, payload: Any) -> None:
            if failures["left"] > 0:
                failures["left"] -= 1
                raise ConnectionError("store briefly unreachable")
            await db.effects.insert_one({"_id": event.id})

        e = created("c1")
        await produce(infra.kafka_bootstrap, topic, [record(e)])
        await run_consumer(topic, dlq, effect)
        await eventually(lambda: _count(db, 1))
        assert await applied_ids(db) == [e.id] and failures["left"] == 0
        assert await read_all(infra.kafka_bootstrap, dlq, expect=0, timeout_s=2) == []


class TestPoisonMessages:
    async def test_each_poison_lands_on_the_dlq_with_its_reason_and_the_consumer_goes_on(
        self, infra: Infra, db: AsyncDatabase[Document], run_consumer: Any
    ) -> None:
        topic, dlq = await private_topics(infra.kafka_bootstrap, "events", "dlq")

        async def effect(event: EventEnvelope, payload: Any) -> None:
            await db.effects.insert_one({"_id": event.id})

        good_before, good_after = created("c1"), created("c1")
        unknown = created("c1").model_copy(update={"type": "contact.teleported"})
        invalid = created("c1").model_copy(update={"data": {"contact_id": "c1"}})
        poison: list[tuple[bytes | None, bytes]] = [
            (b"c1", b"{not json"),
            (b"c1", json.dumps({"type": "contact.created"}).encode()),
            (b"c1", unknown.model_dump_json().encode()),
            (b"c1", invalid.model_dump_json().encode()),
            (b"someone-else", created("c1").model_dump_json().encode()),
        ]
        await produce(infra.kafka_bootstrap, topic, [record(good_before), *poison, record(good_after)])
        await run_consumer(topic, dlq, effect)
        await eventually(lambda: _count(db, 2))
        dead = await read_all(infra.kafka_bootstrap, dlq, expect=len(poison))
        reasons = sorted(dict(r.headers)["dlq_reason"].decode() for r in dead)
        assert reasons == sorted(["malformed_json", "invalid_envelope", "unknown_type", "invalid_payload", "wrong_key"])
        assert all(dict(r.headers)["dlq_original_topic"].decode() == topic for r in dead)
        assert await applied_ids(db) == sorted([good_before.id, good_after.id])


async def _count(db: AsyncDatabase[Document], n: int) -> bool:
    return await db.effects.count_documents({}) >= n
