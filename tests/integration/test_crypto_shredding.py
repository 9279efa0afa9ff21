"""Crypto-shredding against the real broker: events leave a producer encrypted with their subject's key, another
process (its own key reader) applies them, and once the subject is erased its events still in the log are skipped as
unreadable, replays included, while nothing in any topic shows the personal data in clear."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from cdp_common.contracts import REGISTRY
from cdp_common.contracts.contacts import ContactCreated
from cdp_common.events import EventEnvelope, make_event, utcnow
from cdp_common.messaging import EventConsumer, EventPublisher, Inbox, attach_keys, make_broker, subscribe
from cdp_common.shredding import SubjectKeys, SubjectShredded
from cdp_common.store import Document
from cdp_common.topics import SUBJECT_KEYS, Topic, ensure_topics
from pymongo.asynchronous.database import AsyncDatabase

from tests.support.infra import Infra
from tests.support.kafka import eventually, private_topics, read_all

pytestmark = pytest.mark.integration

SECRET = "integration-test secret, 32 characters or more"
NAME = "Trần Thị Bích Ngọc"


def created(contact_id: str) -> EventEnvelope:
    return make_event(
        source="test",
        event_type="contact.created",
        subject=contact_id,
        data=ContactCreated(contact_id=contact_id, full_name=NAME, source="staff", created_at=utcnow()),
    )


@pytest.fixture
async def key_topic(infra: Infra) -> str:
    [name] = await private_topics(infra.kafka_bootstrap, "keys-placeholder")
    topic = name.replace("keys-placeholder", "subject-keys")
    await ensure_topics(infra.kafka_bootstrap, (Topic(topic, 3, "test", compacted=True, config=SUBJECT_KEYS.config),))
    return topic


@pytest.fixture
async def keyrings(infra: Infra, key_topic: str) -> AsyncIterator[list[SubjectKeys]]:
    rings = [SubjectKeys(infra.kafka_bootstrap, SECRET, f"test-{i}", topic=key_topic) for i in range(2)]
    for r in rings:
        await r.start()
    yield rings
    for r in rings:
        await r.stop()


class TestSubjectKeys:
    async def test_a_key_created_by_one_process_opens_the_data_in_another_until_it_is_shredded(
        self, keyrings: list[SubjectKeys]
    ) -> None:
        producer, consumer = keyrings
        sealed = await producer.encrypt(created("c-1"))
        assert NAME not in sealed.model_dump_json()
        opened = await consumer.decrypt(sealed)  # waits for the key topic if it has not read the key yet
        assert opened.data["full_name"] == NAME
        assert await consumer.shred(["c-1"]) == 1
        await producer.caught_up()
        for ring in keyrings:
            with pytest.raises(SubjectShredded):
                await ring.decrypt(sealed)
        assert await producer.shred(["c-1"]) == 0  # idempotent

    async def test_a_process_started_later_loads_live_keys_and_not_destroyed_ones(
        self, infra: Infra, key_topic: str, keyrings: list[SubjectKeys]
    ) -> None:
        ring = keyrings[0]
        kept, erased = await ring.encrypt(created("kept")), await ring.encrypt(created("erased"))
        await ring.shred(["erased"])
        late = SubjectKeys(infra.kafka_bootstrap, SECRET, "late", topic=key_topic)
        await late.start()
        try:
            assert (await late.decrypt(kept)).data["full_name"] == NAME
            with pytest.raises(SubjectShredded):
                await late.decrypt(erased)
        finally:
            await late.stop()

    async def test_concurrent_producers_of_one_subject_agree_on_a_key(self, keyrings: list[SubjectKeys]) -> None:
        kids = await asyncio.gather(*(keyrings[0].key_for("busy") for _ in range(20)))
        assert len(set(kids)) == 1


class TestEncryptedEventsThroughConsumers:
    async def test_events_are_applied_decrypted_and_skipped_once_their_subject_is_shredded(
        self, infra: Infra, db: AsyncDatabase[Document], keyrings: list[SubjectKeys]
    ) -> None:
        producer_keys, consumer_keys = keyrings
        topic, dlq = await private_topics(infra.kafka_bootstrap, "events", "dlq")
        out = make_broker(infra.kafka_bootstrap, "test-out")
        attach_keys(out, producer_keys)
        await out.start()
        applied: list[tuple[str, str]] = []

        async def effect(event: EventEnvelope, payload: Any) -> None:
            applied.append((event.subject, payload.full_name))

        def consumer_broker(group: str) -> Any:
            broker = make_broker(infra.kafka_bootstrap, "test-in")
            attach_keys(broker, consumer_keys)
            consumer = EventConsumer(
                group_id=group,
                dead_letter_topic=dlq,
                registry=REGISTRY,
                inbox=Inbox(lambda: db, group),
                publisher_broker=broker,
                handlers={"contact.created": effect},
            )
            subscribe(broker, topic, consumer, title="t", description="d")
            return broker

        try:
            publisher = EventPublisher(out)
            await publisher.publish_many([(topic, created("alice")), (topic, created("bob"))])
            first = consumer_broker("g-first")
            await first.start()
            await eventually(lambda: _async(len(applied) == 2))
            await first.stop()
            assert sorted(applied) == [("alice", NAME), ("bob", NAME)]

            raw = await read_all(infra.kafka_bootstrap, topic, expect=2)
            assert raw and all(NAME.encode() not in r.value and b"ciphertext" in r.value for r in raw)

            await consumer_keys.shred(["alice"])
            applied.clear()
            replay = consumer_broker("g-replay")  # a new group reads the log from the beginning
            await replay.start()
            await eventually(lambda: _async(len(applied) >= 1))
            await asyncio.sleep(1.0)
            await replay.stop()
            assert applied == [("bob", NAME)]
            assert await read_all(infra.kafka_bootstrap, dlq, expect=0, timeout_s=2) == []
        finally:
            await out.stop()


async def _async(value: bool) -> bool:
    return value
