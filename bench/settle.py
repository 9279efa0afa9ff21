"""Waiting for the platform to catch up: the consumer groups' lag on Kafka, so that a benchmark measures what it
sets out to measure and not the aftermath of its own seeding (every service shares this machine's two cores)."""

from __future__ import annotations

import asyncio
import sys
import time

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient


async def consumer_lag(bootstrap: str) -> dict[str, int]:
    """Records not yet processed, per consumer group."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await admin.start()
    await consumer.start()
    out: dict[str, int] = {}
    try:
        for group, *_ in await admin.list_consumer_groups():
            offsets = await admin.list_consumer_group_offsets(group)
            if offsets:
                ends = await consumer.end_offsets(list(offsets))
                out[group] = sum(max(0, ends[tp] - m.offset) for tp, m in offsets.items() if m.offset >= 0)
    finally:
        await admin.close()
        await consumer.stop()
    return out


async def settle(bootstrap: str, timeout_s: float = 600.0) -> dict[str, int]:
    """Wait until every consumer group has caught up (or the timeout); print progress. Returns the last lag."""
    started = time.perf_counter()
    while True:
        lag = await consumer_lag(bootstrap)
        behind = {g: n for g, n in lag.items() if n}
        if not behind or time.perf_counter() - started > timeout_s:
            return lag
        print(f"  waiting for consumers to catch up: {behind}", file=sys.stderr, flush=True)
        await asyncio.sleep(5)
