"""Kafka wiring shared by every service: the broker, the event publisher, and the consumer conventions.

Conventions (docs/events.md):
- at least once: a subscriber commits its offset only after the effect is stored (FastStream NACK_ON_ERROR: a
  handler that raises is sought back and redelivered after a back-off);
- idempotent: `Inbox` remembers processed event ids per consumer group under a unique key; a duplicate is a no-op;
- poison messages (malformed JSON, bad envelope, unknown type, invalid payload, oversized, wrong key, or a
  handler's `PoisonMessage`) go to `cdp.dlq.<service>.v1` with the reason in headers, and the consumer goes on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from faststream import AckPolicy, BaseMiddleware
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import BaseModel, ValidationError
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from cdp_common.events import MAX_EVENT_BYTES, EventEnvelope, EventTypeRegistry, UnknownEventType, utcnow
from cdp_common.logs import event_id_var, trace_id_var
from cdp_common.metrics import DEAD_LETTERS, EVENTS_CONSUMED, EVENTS_PUBLISHED, HANDLER_SECONDS
from cdp_common.shredding import SubjectKeys, SubjectShredded
from cdp_common.store import Document, find_by_ids, insert_new

log = logging.getLogger("cdp.messaging")


def make_broker(bootstrap: str, client_id: str, *, description: str | None = None) -> KafkaBroker:
    """A broker whose producer waits for all in-sync replicas, idempotently. Subscribers registered with
    `subscribe` send what FastStream itself cannot even parse down the same dead-letter path as the rest."""
    consumers: dict[str, EventConsumer] = {}

    class UnparseableToDeadLetter(BaseMiddleware):
        """FastStream validates the envelope before our handler runs; when that fails, hand the raw record to the
        topic's `EventConsumer`, which names the precise reason and dead-letters it (instead of a redelivery loop)."""

        async def consume_scope(self, call_next: Callable[[Any], Awaitable[Any]], msg: Any) -> Any:
            try:
                return await call_next(msg)
            except ValidationError:
                record = msg.raw_message
                consumer = consumers.get(record.topic)
                if consumer is None:
                    raise
                return await consumer.handle_record(
                    record.topic, record.key, record.value or b"", record.partition, record.offset
                )

    broker = KafkaBroker(
        bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        allow_auto_create_topics=False,
        graceful_timeout=20.0,
        description=description,
        request_timeout_ms=15_000,
        middlewares=[UnparseableToDeadLetter],
        logger=logging.getLogger("faststream"),  # our JSON handler, not FastStream's coloured one
        log_level=logging.DEBUG,  # one line per message is too much at volume; our metrics count them
    )
    _BROKER_CONSUMERS[broker] = consumers
    return broker


_BROKER_CONSUMERS: weakref.WeakKeyDictionary[KafkaBroker, dict[str, EventConsumer]] = weakref.WeakKeyDictionary()
_BROKER_KEYS: weakref.WeakKeyDictionary[KafkaBroker, SubjectKeys] = weakref.WeakKeyDictionary()


def attach_keys(broker: KafkaBroker, keys: SubjectKeys) -> None:
    """From now on, events published through `broker` are encrypted with their subject's key, and its consumers
    decrypt them (crypto-shredding, `cdp_common.shredding`)."""
    _BROKER_KEYS[broker] = keys


class PoisonMessage(Exception):
    """A message that will never succeed however often it is retried; it goes to the dead-letter topic."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class EventPublisher:
    """Publishes envelopes keyed by their subject, acknowledged by all in-sync replicas."""

    def __init__(self, broker: KafkaBroker) -> None:
        self.broker = broker

    async def publish(self, topic: str, event: EventEnvelope, *, personal: bool = True) -> None:
        """`personal=False` only for events that carry nothing about a person beyond their id (an erasure's
        confirmation, for one: sealing it would create a new key for the person just erased)."""
        wire = await self._seal(event) if personal else event
        await self.broker.publish(_encode(wire), topic=topic, key=event.key(), headers=_headers(event))
        EVENTS_PUBLISHED.labels(topic, event.type).inc()

    async def publish_many(self, items: list[tuple[str, EventEnvelope]]) -> None:
        """Send all, then wait for every acknowledgement: the batch shares round trips. Per key, the producer keeps
        the order of sending. Raises if any send failed (the caller keeps those in its outbox).

        The records go straight to the broker's aiokafka producer (same producer, same acks and idempotence as
        `publish`): FastStream's per-message publish path costs more than the send itself at thousands per second."""
        keys = _BROKER_KEYS.get(self.broker)
        if keys is not None:  # new subjects' keys are created together, before any of their events leaves
            subjects = list({e.subject for _, e in items})
            kids = dict(zip(subjects, await asyncio.gather(*map(keys.key_for, subjects)), strict=True))
            sealed = [(t, e if e.datakeyid is not None else keys.ring.encrypt(e, kids[e.subject])) for t, e in items]
        else:
            sealed = items
        producer = _aiokafka_producer(self.broker)
        if producer is None:
            futures = [
                await self.broker.publish(_encode(w), topic=t, key=w.key(), headers=_headers(w), no_confirm=True)
                for t, w in sealed
            ]
        else:
            futures = [await producer.send(t, _encode(w), key=w.key(), headers=_raw_headers(w)) for t, w in sealed]
        await asyncio.gather(*futures)
        for t, e in items:
            EVENTS_PUBLISHED.labels(t, e.type).inc()

    async def _seal(self, event: EventEnvelope) -> EventEnvelope:
        keys = _BROKER_KEYS.get(self.broker)
        return event if keys is None or event.datakeyid is not None else await keys.encrypt(event)


def _encode(event: EventEnvelope) -> bytes:
    return event.model_dump_json(exclude={"datakeyid"} if event.datakeyid is None else None).encode()


def _headers(event: EventEnvelope) -> dict[str, str]:
    return {"ce_type": event.type, "ce_id": event.id, "content-type": "application/cloudevents+json"}


def _raw_headers(event: EventEnvelope) -> list[tuple[str, bytes]]:
    return [(k, v.encode()) for k, v in _headers(event).items()]


def _aiokafka_producer(broker: KafkaBroker) -> Any:
    """The connected broker's aiokafka producer, or None where FastStream keeps it elsewhere (then the batch goes
    through `broker.publish`, slower but the same records)."""
    try:
        producer = broker._producer._producer.producer  # type: ignore[attr-defined]
    except Exception:  # not connected, or another FastStream layout
        return None
    return producer if hasattr(producer, "send") else None


class Inbox:
    """Processed event ids per consumer group. `_id` = "<group>:<event id>" is the unique index."""

    def __init__(self, db: Callable[[], AsyncDatabase[Document]], group_id: str) -> None:
        self._db = db  # resolved on use: the store is opened in the lifespan, after subscribers are declared
        self.group_id = group_id

    @property
    def col(self) -> AsyncCollection[Document]:
        return self._db()["processed_events"]

    def _key(self, event_id: str) -> str:
        return f"{self.group_id}:{event_id}"

    async def seen(self, event_id: str) -> bool:
        return await self.col.find_one({"_id": self._key(event_id)}, {"_id": 1}) is not None

    async def remember(self, event: EventEnvelope) -> None:
        try:
            await self.col.insert_one(self._entry(event))
        except DuplicateKeyError:
            pass  # a replica got there first; the effect is idempotent, so both outcomes are the same

    def _entry(self, event: EventEnvelope) -> dict[str, Any]:
        return {"_id": self._key(event.id), "group": self.group_id, "type": event.type, "at": utcnow()}

    async def seen_of(self, event_ids: Iterable[str]) -> set[str]:
        """Which of `event_ids` were processed already (one read)."""
        keys = [self._key(e) for e in event_ids]
        prefix = len(self.group_id) + 1
        return {d["_id"][prefix:] async for d in find_by_ids(self.col, keys, {"_id": 1})}

    async def remember_all(self, events: list[EventEnvelope]) -> None:
        # some may be remembered by a replica or an earlier delivery already: the same outcome
        await insert_new(self.col, [self._entry(e) for e in events])


Handler = Callable[[EventEnvelope, BaseModel], Awaitable[None]]


@dataclass
class EventConsumer:
    """Routes the events of one topic to handlers by `type`, with the inbox and dead-letter conventions."""

    group_id: str
    dead_letter_topic: str
    registry: EventTypeRegistry
    inbox: Inbox
    publisher_broker: KafkaBroker
    handlers: dict[str, Handler] = field(default_factory=dict)
    retry_backoff_seconds: float = 1.0

    def on(self, event_type: str) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            self.handlers[event_type] = fn
            return fn

        return register

    async def handle_record(self, topic: str, key: bytes | None, value: bytes, partition: int, offset: int) -> str:
        """Apply one Kafka record. Returns the outcome; raises only for transient failures (to be redelivered)."""
        event_type = "?"
        try:
            envelope = self._parse(key, value)
            event_type = envelope.type
            event_id_var.set(envelope.id)
            trace_id_var.set(envelope.traceid)
            handler = self.handlers.get(envelope.type)
            if handler is None:
                # Known to the catalogue but not this consumer's business: skipped without a dead letter, and without
                # decrypting or validating a payload this consumer never reads.
                if self.registry.model_for(envelope.type, envelope.schemaversion) is None:
                    raise UnknownEventType(envelope.type, envelope.schemaversion)
                outcome = "ignored"
            elif await self.inbox.seen(envelope.id):
                outcome = "duplicate"
            else:
                if envelope.datakeyid is not None:
                    envelope = await self._open(envelope)
                payload = self._payload(envelope)
                started = time.perf_counter()
                await handler(envelope, payload)
                HANDLER_SECONDS.labels(self.group_id, envelope.type).observe(time.perf_counter() - started)
                await self.inbox.remember(envelope)
                outcome = "applied"
        except SubjectShredded:
            # its person was erased: the personal data in it is gone for good, and so is the reason to apply it
            outcome = "shredded"
        except PoisonMessage as poison:
            await self._dead_letter(topic, key, value, partition, offset, poison)
            outcome = "dead_lettered"
        except UnknownEventType as unknown:
            await self._dead_letter(topic, key, value, partition, offset, PoisonMessage("unknown_type", str(unknown)))
            outcome = "dead_lettered"
        except Exception:
            EVENTS_CONSUMED.labels(self.group_id, topic, event_type, "retry").inc()
            log.exception("event handling failed; it will be redelivered", extra={"topic": topic, "offset": offset})
            await asyncio.sleep(self.retry_backoff_seconds)
            raise
        finally:
            event_id_var.set(None)
            trace_id_var.set(None)
        EVENTS_CONSUMED.labels(self.group_id, topic, event_type, outcome).inc()
        return outcome

    def _parse(self, key: bytes | None, value: bytes) -> EventEnvelope:
        if len(value) > MAX_EVENT_BYTES:
            raise PoisonMessage("oversized", f"{len(value)} bytes > {MAX_EVENT_BYTES}")
        try:
            raw = json.loads(value)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise PoisonMessage("malformed_json", str(e)) from None
        try:
            envelope = EventEnvelope.model_validate(raw)
        except ValidationError as e:
            raise PoisonMessage("invalid_envelope", _summarise(e)) from None
        if key is None or key.decode(errors="replace") != envelope.subject:
            raise PoisonMessage("wrong_key", "the record key must equal the envelope subject")
        return envelope

    async def _open(self, envelope: EventEnvelope) -> EventEnvelope:
        keys = _BROKER_KEYS.get(self.publisher_broker)
        if keys is None:
            raise PoisonMessage("undecryptable", "encrypted data, and this consumer holds no subject keys")
        try:
            return await keys.decrypt(envelope)
        except SubjectShredded:
            raise
        except Exception as e:  # wrong tag, truncated ciphertext: it will never decrypt
            raise PoisonMessage("undecryptable", type(e).__name__) from None

    def _payload(self, envelope: EventEnvelope) -> BaseModel:
        try:
            return self.registry.parse(envelope)
        except ValidationError as e:
            raise PoisonMessage("invalid_payload", _summarise(e)) from None

    async def _dead_letter(
        self, topic: str, key: bytes | None, value: bytes, partition: int, offset: int, poison: PoisonMessage
    ) -> None:
        await self.publisher_broker.publish(
            value,
            topic=self.dead_letter_topic,
            key=key,
            headers={
                "dlq_reason": poison.reason,
                "dlq_detail": poison.detail[:1000],
                "dlq_original_topic": topic,
                "dlq_original_partition": str(partition),
                "dlq_original_offset": str(offset),
                "dlq_group": self.group_id,
                "dlq_time": utcnow().isoformat(),
            },
        )
        DEAD_LETTERS.labels(self.group_id, poison.reason).inc()
        log.warning(
            "message dead-lettered",
            extra={"topic": topic, "partition": partition, "offset": offset, "reason": poison.reason},
        )


@dataclass(frozen=True)
class Delivery:
    """One event of a batch, opened and validated, with where it came from."""

    envelope: EventEnvelope
    payload: BaseModel
    topic: str
    partition: int
    offset: int


BatchHandler = Callable[[list[Delivery]], Awaitable[None]]


@dataclass
class BatchEventConsumer(EventConsumer):
    """The same conventions for a whole poll at once: each record is parsed, opened and validated on its own (poison
    goes to the dead-letter topic, other types are skipped), then the events of `types` go to `batch_handler` in
    one call, and the offsets are committed after it returned. With `use_inbox` False the handler is idempotent on
    its own (it sees each event's partition and offset), which is what lets it cost a few store round trips per
    batch; with it True the events already processed are left out (one read) and the batch's are remembered after
    the handler returned (one write), as `EventConsumer` does one event at a time."""

    types: frozenset[str] = frozenset()
    batch_handler: BatchHandler | None = None
    use_inbox: bool = False

    async def handle_batch(self, records: tuple[Any, ...]) -> None:
        deliveries: list[Delivery] = []
        for r in records:
            value = r.value or b""
            try:
                envelope = self._parse(r.key, value)
                if envelope.type not in self.types:
                    if self.registry.model_for(envelope.type, envelope.schemaversion) is None:
                        raise UnknownEventType(envelope.type, envelope.schemaversion)
                    EVENTS_CONSUMED.labels(self.group_id, r.topic, envelope.type, "ignored").inc()
                    continue
                if envelope.datakeyid is not None:
                    envelope = await self._open(envelope)
                deliveries.append(Delivery(envelope, self._payload(envelope), r.topic, r.partition, r.offset))
            except SubjectShredded:
                EVENTS_CONSUMED.labels(self.group_id, r.topic, "?", "shredded").inc()
            except PoisonMessage as poison:
                await self._dead_letter(r.topic, r.key, value, r.partition, r.offset, poison)
            except UnknownEventType as unknown:
                reason = PoisonMessage("unknown_type", str(unknown))
                await self._dead_letter(r.topic, r.key, value, r.partition, r.offset, reason)
        if self.use_inbox and deliveries:
            deliveries = await self._unseen(deliveries)
        if not deliveries:
            return
        assert self.batch_handler is not None
        started = time.perf_counter()
        try:
            await self.batch_handler(deliveries)
        except Exception:
            EVENTS_CONSUMED.labels(self.group_id, records[0].topic, "batch", "retry").inc(len(deliveries))
            log.exception(
                "batch handling failed; it will be redelivered",
                extra={"topic": records[0].topic, "events": len(deliveries)},
            )
            await asyncio.sleep(self.retry_backoff_seconds)
            raise
        if self.use_inbox:
            await self.inbox.remember_all([d.envelope for d in deliveries])
        HANDLER_SECONDS.labels(self.group_id, "batch").observe(time.perf_counter() - started)
        for d in deliveries:
            EVENTS_CONSUMED.labels(self.group_id, d.topic, d.envelope.type, "applied").inc()

    async def _unseen(self, deliveries: list[Delivery]) -> list[Delivery]:
        """The deliveries not processed before, each event once (a re-publication can sit in the same batch)."""
        seen = await self.inbox.seen_of({d.envelope.id for d in deliveries})
        out = []
        for d in deliveries:
            if d.envelope.id in seen:
                EVENTS_CONSUMED.labels(self.group_id, d.topic, d.envelope.type, "duplicate").inc()
                continue
            seen.add(d.envelope.id)
            out.append(d)
        return out


def _summarise(e: ValidationError) -> str:
    """Field paths and messages only: the input values may be personal data and stay out of headers and logs."""
    return "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}" for err in e.errors()[:10])


def _committing_after_effect(consumer: EventConsumer, title: str, description: str) -> dict[str, Any]:
    """Subscriber options every consumer shares: its group, offsets committed after the effect, from the start."""
    return {
        "group_id": consumer.group_id,
        "ack_policy": AckPolicy.NACK_ON_ERROR,
        "auto_offset_reset": "earliest",
        "title": title,
        "description": description,
    }


def subscribe(
    broker: KafkaBroker, topic: str, consumer: EventConsumer, *, title: str, description: str, max_records: int = 500
) -> Any:
    """Register `consumer` on `topic` as a FastStream subscriber committing after the effect: a poll's records are
    applied one by one, in order, each remembered in the inbox once applied, and the poll's offsets are committed
    once after the last (a commit per record cost the broker and the consumer a round trip each, on topics where
    most records are some other consumer's business). A failure redelivers the poll; what was applied is skipped."""
    _BROKER_CONSUMERS.setdefault(broker, {})[topic] = consumer

    async def on_poll(msg: KafkaMessage) -> None:
        records = msg.raw_message
        assert isinstance(records, tuple)
        for record in records:
            await consumer.handle_record(record.topic, record.key, record.value or b"", record.partition, record.offset)

    options: dict[str, Any] = {
        **_committing_after_effect(consumer, title, description),
        "batch": True,
        "max_records": max_records,
        "batch_timeout_ms": 50,
        "decoder": _undecoded,
    }
    return broker.subscriber(topic, **options)(on_poll)


async def _undecoded(msg: Any) -> Any:
    """Batch bodies are parsed by `BatchEventConsumer` itself: FastStream's JSON decoding would be done twice."""
    return None


def subscribe_batch(
    broker: KafkaBroker,
    topic: str,
    consumer: BatchEventConsumer,
    *,
    title: str,
    description: str,
    max_records: int = 1000,
    batch_timeout_ms: int = 50,
) -> Any:
    """Register `consumer` on `topic` as a batch subscriber (up to `max_records` per poll) committing after the
    handler returned; a failure rewinds every partition of the batch and redelivers it."""

    async def on_batch(msg: KafkaMessage) -> None:
        records = msg.raw_message
        assert isinstance(records, tuple)
        await consumer.handle_batch(records)

    options: dict[str, Any] = {
        **_committing_after_effect(consumer, title, description),
        "batch": True,
        "max_records": max_records,
        "batch_timeout_ms": batch_timeout_ms,
        "decoder": _undecoded,
    }
    return broker.subscriber(topic, **options)(on_batch)
