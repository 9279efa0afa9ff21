"""Broadcast following: every replica of a service reads every new record of a topic (no consumer group), for
state each replica keeps in memory and must drop when another replica changes the data behind it.

Only record keys are read (events are keyed by their subject), so the follower needs no data key and costs
almost nothing per record. It starts at the end of the topic: what happened before the replica started is not
in its memory anyway."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger("cdp.broadcast")


async def partitions_of(consumer: Any, topic: str) -> set[int]:
    """The partitions of `topic`, waiting for its metadata (aiokafka learns only topics it was told about)."""
    client = consumer._client
    client.add_topic(topic)
    for _ in range(100):
        parts = consumer.partitions_for_topic(topic)
        if parts:
            return set(parts)
        await client.force_metadata_update()
        await asyncio.sleep(0.1)
    raise RuntimeError(f"topic {topic} does not exist; run cdp-topics")


async def poll_forever(consumer: Any, on_batch: Callable[[dict[Any, list[Any]]], Awaitable[None]], what: str) -> None:
    """Read `consumer` until cancelled, handing each batch to `on_batch`; a failed read is logged and retried."""
    while True:
        try:
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("reading failed; retrying", extra={"reading": what})
            await asyncio.sleep(1.0)
            continue
        await on_batch(batch)


async def stop_task(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


class KeyFollower:
    """Calls `on_keys` with the keys of every record published to `topic` after `start`."""

    def __init__(self, bootstrap: str, topic: str, client_id: str, on_keys: Callable[[list[str]], None]) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.client_id = client_id
        self.on_keys = on_keys
        self.seen = 0
        self.lag = 0
        self.last_poll = 0.0  # monotonic time of the last successful poll
        self._consumer: Any = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        from aiokafka import AIOKafkaConsumer, TopicPartition

        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            client_id=f"{self.client_id}-follow",
            enable_auto_commit=False,
            fetch_max_wait_ms=50,  # an invalidation should arrive in milliseconds, not after a full fetch wait
        )
        await self._consumer.start()
        tps = [TopicPartition(self.topic, p) for p in sorted(await partitions_of(self._consumer, self.topic))]
        self._consumer.assign(tps)
        await self._consumer.seek_to_end(*tps)
        for tp in tps:  # resolve the end positions now: what is published after start() returns is seen
            await self._consumer.position(tp)
        self.last_poll = time.monotonic()
        self._task = asyncio.create_task(self._follow(), name=f"follow-{self.topic}")

    def current(self, max_silence_s: float = 5.0, max_lag: int = 1000) -> bool:
        """Polled within `max_silence_s` (a poll waits at most 0.5 s) and at most `max_lag` records behind."""
        return (
            self._task is not None
            and not self._task.done()
            and time.monotonic() - self.last_poll < max_silence_s
            and self.lag <= max_lag
        )

    async def stop(self) -> None:
        await stop_task(self._task)
        if self._consumer is not None:
            await self._consumer.stop()

    async def _follow(self) -> None:
        await poll_forever(self._consumer, self._apply, self.topic)

    async def _apply(self, batch: dict[Any, list[Any]]) -> None:
        keys = [r.key.decode() for records in batch.values() for r in records if r.key]
        if keys:
            self.seen += len(keys)
            self.on_keys(keys)
        lag = 0
        for tp in self._consumer.assignment():
            high = self._consumer.highwater(tp)
            if high is not None:
                lag += max(0, high - await self._consumer.position(tp))
        self.lag, self.last_poll = lag, time.monotonic()
