"""The consumer conventions, with in-memory fakes: a duplicate is a no-op, every kind of poison goes to the
dead-letter topic with its reason and the consumer goes on, a transient failure is raised for redelivery."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cdp_common.contracts import REGISTRY
from cdp_common.contracts.contacts import ContactCreated
from cdp_common.events import EventEnvelope, make_event, utcnow
from cdp_common.messaging import BatchEventConsumer, EventConsumer, PoisonMessage


class FakeInbox:
    def __init__(self) -> None:
        self.ids: set[str] = set()

    async def seen(self, event_id: str) -> bool:
        return event_id in self.ids

    async def remember(self, event: EventEnvelope) -> None:
        self.ids.add(event.id)

    async def seen_of(self, event_ids: Any) -> set[str]:
        return self.ids & set(event_ids)

    async def remember_all(self, events: list[EventEnvelope]) -> None:
        self.ids.update(e.id for e in events)


class FakeBroker:
    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    async def publish(self, value: bytes, *, topic: str, key: bytes | None, headers: dict[str, str]) -> None:
        self.published.append({"value": value, "topic": topic, "key": key, "headers": headers})


def created(contact_id: str = "c1", event_id: str | None = None) -> EventEnvelope:
    return make_event(
        source="test",
        event_type="contact.created",
        subject=contact_id,
        event_id=event_id,
        data=ContactCreated(contact_id=contact_id, full_name="Trần Văn Bình", source="staff", created_at=utcnow()),
    )


def raw(e: EventEnvelope, **update: Any) -> bytes:
    return e.model_copy(update=update).model_dump_json().encode()


@pytest.fixture
def parts() -> tuple[EventConsumer, FakeBroker, list[str]]:
    broker = FakeBroker()
    applied: list[str] = []

    async def on_created(event: EventEnvelope, payload: Any) -> None:
        applied.append(event.id)

    consumer = EventConsumer(
        group_id="g",
        dead_letter_topic="dlq",
        registry=REGISTRY,
        inbox=FakeInbox(),  # type: ignore[arg-type]
        publisher_broker=broker,  # type: ignore[arg-type]
        handlers={"contact.created": on_created},
        retry_backoff_seconds=0,
    )
    return consumer, broker, applied


async def feed(consumer: EventConsumer, value: bytes, key: bytes | None = b"c1") -> str:
    return await consumer.handle_record("t", key, value, 0, 0)


class TestIdempotency:
    """The same event delivered twice has its effect once."""

    async def test_duplicate_is_a_no_op(self, parts: tuple[EventConsumer, FakeBroker, list[str]]) -> None:
        consumer, _, applied = parts
        e = created(event_id="same")
        raw = e.model_dump_json().encode()
        assert await feed(consumer, raw) == "applied"
        assert await feed(consumer, raw) == "duplicate"
        assert applied == ["same"]


class TestDeadLetters:
    """Each kind of poison lands on the dead-letter topic with its reason; the next good event still applies."""

    @pytest.mark.parametrize(
        ("value", "key", "reason"),
        [
            (b"{not json", b"c1", "malformed_json"),
            (b"\xff\xfe", b"c1", "malformed_json"),
            (json.dumps({"hello": "world"}).encode(), b"c1", "invalid_envelope"),
            (
                created().model_copy(update={"type": "contact.teleported"}).model_dump_json().encode(),
                b"c1",
                "unknown_type",
            ),
            (
                created().model_copy(update={"data": {"contact_id": "c1"}}).model_dump_json().encode(),
                b"c1",
                "invalid_payload",
            ),
            (created().model_dump_json().encode(), b"someone-else", "wrong_key"),
            (created().model_dump_json().encode(), None, "wrong_key"),
            (b"{" + b" " * 1_000_001 + b"}", b"c1", "oversized"),
        ],
    )
    async def test_poison_goes_to_dlq(
        self, parts: tuple[EventConsumer, FakeBroker, list[str]], value: bytes, key: bytes | None, reason: str
    ) -> None:
        consumer, broker, applied = parts
        assert await feed(consumer, value, key) == "dead_lettered"
        assert [p["headers"]["dlq_reason"] for p in broker.published] == [reason]
        assert broker.published[0]["topic"] == "dlq"
        assert broker.published[0]["value"] == value  # the original bytes, for replay after a fix
        good = created()
        assert await feed(consumer, good.model_dump_json().encode()) == "applied"
        assert applied == [good.id]

    async def test_handler_can_declare_poison(self, parts: tuple[EventConsumer, FakeBroker, list[str]]) -> None:
        consumer, broker, _ = parts

        async def refuses(event: EventEnvelope, payload: Any) -> None:
            raise PoisonMessage("rejected", "contact is erased")

        consumer.handlers["contact.created"] = refuses
        assert await feed(consumer, created().model_dump_json().encode()) == "dead_lettered"
        assert broker.published[0]["headers"]["dlq_reason"] == "rejected"

    async def test_dlq_detail_carries_no_input_values(self, parts: tuple[EventConsumer, FakeBroker, list[str]]) -> None:
        consumer, broker, _ = parts
        bad = created().model_copy(update={"data": {"contact_id": "c1", "full_name": 12345678, "source": "x"}})
        await feed(consumer, bad.model_dump_json().encode())
        detail = broker.published[0]["headers"]["dlq_detail"]
        assert "full_name" in detail and "12345678" not in detail


class TestTransientFailures:
    """A failure that is not the message's fault is raised (so the offset is not committed) and not remembered."""

    async def test_failure_is_raised_and_retried(self, parts: tuple[EventConsumer, FakeBroker, list[str]]) -> None:
        consumer, broker, _ = parts
        calls = 0

        async def flaky(event: EventEnvelope, payload: Any) -> None:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise ConnectionError("store unreachable")

        consumer.handlers["contact.created"] = flaky
        raw = created().model_dump_json().encode()
        with pytest.raises(ConnectionError):
            await feed(consumer, raw)
        assert await feed(consumer, raw) == "applied"
        assert calls == 2 and broker.published == []

    async def test_types_of_no_concern_are_skipped(self, parts: tuple[EventConsumer, FakeBroker, list[str]]) -> None:
        consumer, broker, applied = parts
        consumer.handlers.clear()
        assert await feed(consumer, created().model_dump_json().encode()) == "ignored"
        assert applied == [] and broker.published == []


class Record:
    """What aiokafka hands a batch subscriber, reduced to what the consumer reads."""

    def __init__(self, key: bytes | None, value: bytes, offset: int, partition: int = 0) -> None:
        self.topic, self.partition, self.offset, self.key, self.value = "t", partition, offset, key, value


def batch_consumer(broker: FakeBroker, handler: Any, use_inbox: bool = False) -> BatchEventConsumer:
    """A batch consumer of `contact.created` handing its batches to `handler`."""
    return BatchEventConsumer(
        group_id="g",
        dead_letter_topic="dlq",
        registry=REGISTRY,
        inbox=FakeInbox(),  # type: ignore[arg-type]
        publisher_broker=broker,  # type: ignore[arg-type]
        retry_backoff_seconds=0,
        types=frozenset({"contact.created"}),
        batch_handler=handler,
        use_inbox=use_inbox,
    )


async def test_a_batch_dead_letters_its_poison_skips_other_types_and_hands_over_the_rest_at_once() -> None:
    broker = FakeBroker()
    handed: list[list[tuple[str, int]]] = []

    async def on_batch(deliveries: list[Any]) -> None:
        handed.append([(d.envelope.id, d.offset) for d in deliveries])

    consumer = batch_consumer(broker, on_batch)
    good, other = created("c1"), created("c2")
    ignored = other.model_copy(update={"type": "contact.updated"})
    records = (
        Record(b"c1", raw(good), 0),
        Record(b"c2", b"{not json", 1),
        Record(b"c2", raw(ignored), 2),
        Record(b"zz", raw(created("c3")), 3),  # key and subject differ
        Record(b"c2", raw(other), 4),
    )
    await consumer.handle_batch(records)
    assert handed == [[(good.id, 0), (other.id, 4)]]
    assert [p["headers"]["dlq_reason"] for p in broker.published] == ["malformed_json", "wrong_key"]
    assert [p["headers"]["dlq_original_offset"] for p in broker.published] == ["1", "3"]


async def test_a_failing_batch_is_raised_for_redelivery() -> None:
    async def failing(deliveries: list[Any]) -> None:
        raise ConnectionError("store down")

    consumer = batch_consumer(FakeBroker(), failing)
    with pytest.raises(ConnectionError):
        await consumer.handle_batch((Record(b"c1", raw(created("c1")), 0),))


async def test_a_batch_with_the_inbox_hands_over_each_event_once_and_remembers_only_after_success() -> None:
    handed: list[list[str]] = []
    fail = True

    async def on_batch(deliveries: list[Any]) -> None:
        handed.append([d.envelope.id for d in deliveries])
        if fail:
            raise ConnectionError("store down")

    consumer = batch_consumer(FakeBroker(), on_batch, use_inbox=True)
    a, b = created("c1"), created("c2")
    records = (Record(b"c1", raw(a), 0), Record(b"c2", raw(b), 1), Record(b"c1", raw(a), 2))  # a published twice
    with pytest.raises(ConnectionError):
        await consumer.handle_batch(records)
    fail = False
    await consumer.handle_batch(records)  # redelivered: nothing was remembered by the failed attempt
    await consumer.handle_batch(records)  # delivered once more: all were applied
    assert handed == [[a.id, b.id], [a.id, b.id]]
