"""Crypto-shredding: personal data written to Kafka becomes unreadable when its person is erased.

Kafka topics are append-only logs that consumers replay; deleting one person's records from them is not possible.
So the `data` of every event on a topic that carries personal data is encrypted (AES-256-GCM) with a key that
belongs to the event's subject (the person, or a source record not yet matched to one). Erasure destroys the keys:
what is left in the logs is ciphertext nobody can read, replays included.

Where the keys live: the compacted topic `cdp.privacy.subject-keys.v1`, one record per key (record key
"<subject>|<key id>", value the data key wrapped with the platform key-encryption key `CRM_DATA_KEY_SECRET`).
Every process reads that topic into memory at start-up and follows it; a producer that meets a subject without a
key creates one and publishes it (acknowledged by all replicas) before the first event that uses it, so a consumer
that misses a key only has to catch up with the topic. Erasure publishes a tombstone per key: every process drops
the key at once, and compaction removes the wrapped key from the log (the topic is configured to compact within
minutes: `segment.ms`, `min.cleanable.dirty.ratio`, `delete.retention.ms`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import os
import uuid
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cdp_common.broadcast import partitions_of, poll_forever, stop_task
from cdp_common.events import EventEnvelope, utcnow
from cdp_common.topics import SUBJECT_KEYS

log = logging.getLogger("cdp.shredding")

ALGORITHM = "A256GCM"


class SubjectShredded(Exception):
    """The event's key was destroyed: its subject was erased, and its personal data can no longer be read."""


def key_encryption_key(secret: str) -> bytes:
    """The platform secret stretched to an AES-256 key (the secret is at least 32 characters outside local)."""
    return hashlib.sha256(b"cdp-subject-keys/v1\x00" + secret.encode()).digest()


@dataclass
class Keyring:
    """Data keys per subject, mirrored from the compacted key topic. `wrap`/`unwrap` use the key-encryption key;
    only the wrapped form ever leaves the process."""

    kek: bytes
    keys: dict[str, dict[str, bytes]] = field(default_factory=dict)  # subject -> key id -> data key

    def wrap(self, subject: str, kid: str, key: bytes) -> str:
        nonce = os.urandom(12)
        return base64.b64encode(nonce + AESGCM(self.kek).encrypt(nonce, key, f"{subject}|{kid}".encode())).decode()

    def unwrap(self, subject: str, kid: str, wrapped: str) -> bytes:
        raw = base64.b64decode(wrapped)
        return AESGCM(self.kek).decrypt(raw[:12], raw[12:], f"{subject}|{kid}".encode())

    def apply(self, record_key: bytes | None, value: bytes | None) -> None:
        """One record of the key topic: a key, or a tombstone (value None) that destroys it."""
        if record_key is None or b"|" not in record_key:
            return
        subject, kid = record_key.decode().rsplit("|", 1)
        if value is None:
            kids = self.keys.get(subject)
            if kids is not None:
                kids.pop(kid, None)
                if not kids:
                    del self.keys[subject]
            return
        try:
            body = json.loads(value)
            self.keys.setdefault(subject, {})[kid] = self.unwrap(subject, kid, body["wrapped"])
        except Exception:  # a key wrapped under another secret, or garbage: never fatal, never logged in clear
            log.error("subject key unreadable; check CRM_DATA_KEY_SECRET", extra={"kid": kid})

    def encrypt(self, event: EventEnvelope, kid: str) -> EventEnvelope:
        key = self.keys[event.subject][kid]
        nonce = os.urandom(12)
        plain = json.dumps(event.data, separators=(",", ":"), ensure_ascii=False).encode()
        sealed = base64.b64encode(nonce + AESGCM(key).encrypt(nonce, plain, _aad(event))).decode()
        return event.model_copy(update={"datakeyid": kid, "data": {"alg": ALGORITHM, "ciphertext": sealed}})

    def decrypt(self, event: EventEnvelope) -> EventEnvelope:
        assert event.datakeyid is not None
        key = self.keys.get(event.subject, {}).get(event.datakeyid)
        if key is None:
            raise SubjectShredded(event.subject)
        raw = base64.b64decode(str(event.data.get("ciphertext", "")))
        data = json.loads(AESGCM(key).decrypt(raw[:12], raw[12:], _aad(event)))
        return event.model_copy(update={"datakeyid": None, "data": data})


def _aad(event: EventEnvelope) -> bytes:
    # binds the ciphertext to its envelope: it cannot be pasted under another subject, type or id
    return f"{event.id}|{event.subject}|{event.type}|{event.schemaversion}".encode()


class SubjectKeys:
    """A process's view of the key topic: follows it in the background, creates keys, destroys them."""

    def __init__(self, bootstrap: str, secret: str, client_id: str, topic: str = SUBJECT_KEYS.name) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.client_id = client_id
        self.ring = Keyring(key_encryption_key(secret))
        self._producer: Any = None
        self._consumer: Any = None
        self._task: asyncio.Task[None] | None = None
        self._positions: dict[Any, int] = {}
        self._progress = asyncio.Condition()
        self._creating: dict[str, asyncio.Lock] = {}

    async def start(self) -> None:
        from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, client_id=f"{self.client_id}-keys", acks="all", enable_idempotence=True
        )
        await self._producer.start()
        # no consumer group: every process reads every key, from the beginning
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, client_id=f"{self.client_id}-keys", enable_auto_commit=False
        )
        await self._consumer.start()
        partitions = await partitions_of(self._consumer, self.topic)
        tps = [TopicPartition(self.topic, p) for p in partitions]
        self._consumer.assign(tps)
        await self._consumer.seek_to_beginning(*tps)
        self._task = asyncio.create_task(self._follow(), name="subject-keys")
        await self.caught_up(timeout_s=120.0)
        log.info("subject keys loaded", extra={"subjects": len(self.ring.keys)})

    async def stop(self) -> None:
        await stop_task(self._task)
        if self._consumer is not None:
            await self._consumer.stop()
        if self._producer is not None:
            await self._producer.stop()

    async def _follow(self) -> None:
        await poll_forever(self._consumer, self._apply, self.topic)

    async def _apply(self, batch: dict[Any, list[Any]]) -> None:
        for records in batch.values():
            for r in records:
                self.ring.apply(r.key, r.value)
        for tp in self._consumer.assignment():  # the fetch position also steps over compacted gaps
            self._positions[tp] = await self._consumer.position(tp)
        async with self._progress:
            self._progress.notify_all()

    async def caught_up(self, timeout_s: float = 10.0) -> None:
        """Wait until everything published to the key topic before this call has been read."""
        tps = list(self._consumer.assignment())
        ends = await self._consumer.end_offsets(tps)

        def done() -> bool:
            return all(ends[tp] == 0 or self._positions.get(tp, 0) >= ends[tp] for tp in tps)

        async with self._progress:
            await asyncio.wait_for(self._progress.wait_for(done), timeout_s)

    async def key_for(self, subject: str) -> str:
        """The id of the subject's data key, creating and publishing one first if it has none."""
        kids = self.ring.keys.get(subject)
        if kids:
            return min(kids)
        lock = self._creating.setdefault(subject, asyncio.Lock())
        async with lock:
            kids = self.ring.keys.get(subject)
            if kids:
                return min(kids)
            kid = uuid.uuid4().hex
            key = AESGCM.generate_key(bit_length=256)
            value = json.dumps(
                {"wrapped": self.ring.wrap(subject, kid, key), "created_at": utcnow().isoformat(), "by": self.client_id}
            ).encode()
            await self._producer.send_and_wait(self.topic, value, key=f"{subject}|{kid}".encode())
            self.ring.keys.setdefault(subject, {})[kid] = key
        self._creating.pop(subject, None)
        return kid

    async def encrypt(self, event: EventEnvelope) -> EventEnvelope:
        return self.ring.encrypt(event, await self.key_for(event.subject))

    async def decrypt(self, event: EventEnvelope) -> EventEnvelope:
        """The event with its `data` readable again; raises `SubjectShredded` when its key was destroyed."""
        if event.datakeyid is None:
            return event
        if event.datakeyid not in self.ring.keys.get(event.subject, {}):
            await self.caught_up()  # published before the event, perhaps not read yet
        return self.ring.decrypt(event)

    async def shred(self, subjects: list[str]) -> int:
        """Destroy every key of these subjects: tombstones on the topic (acknowledged), then the local copies.
        Returns how many keys were destroyed. Idempotent."""
        await self.caught_up()
        destroyed = 0
        for subject in subjects:
            for kid in list(self.ring.keys.get(subject, {})):
                await self._producer.send_and_wait(self.topic, None, key=f"{subject}|{kid}".encode())
                self.ring.apply(f"{subject}|{kid}".encode(), None)
                destroyed += 1
        return destroyed
