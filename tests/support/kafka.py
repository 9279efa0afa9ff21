"""Small real-Kafka helpers for tests: private topics and reading a topic back."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from cdp_common.topics import Topic, ensure_topics


async def private_topics(bootstrap: str, *names: str, partitions: int = 3) -> list[str]:
    run = uuid.uuid4().hex[:8]
    topics = [f"test.{n}.{run}" for n in names]
    await ensure_topics(bootstrap, tuple(Topic(t, partitions, "test") for t in topics))
    return topics


async def produce(bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def read_all(bootstrap: str, topic: str, expect: int, timeout_s: float = 20.0) -> list[Any]:
    """Read `topic` from the beginning until `expect` records arrived (or the timeout), then a little longer to
    catch records that should not be there."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"reader-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[Any] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    extra_until: float | None = None
    try:
        while loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            for recs in batch.values():
                records.extend(recs)
            if len(records) >= expect and extra_until is None:
                extra_until = loop.time() + 1.0
            if extra_until is not None and loop.time() >= extra_until:
                break
    finally:
        await consumer.stop()
    return records


async def eventually(check: Any, timeout_s: float = 20.0, interval_s: float = 0.2) -> Any:
    """Poll an async `check` until it returns a truthy value."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    last: Any = None
    while loop.time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval_s)
    raise AssertionError(f"condition not met in {timeout_s}s; last value: {last!r}")


async def read_to_end(bootstrap: str, topic: str) -> list[Any]:
    """Every record a topic holds now, from the beginning to its current end."""
    from aiokafka import TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer._client.add_topic(topic)
        await consumer._client.force_metadata_update()
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        records: list[Any] = []
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            for recs in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(recs)
        return records
    finally:
        await consumer.stop()
