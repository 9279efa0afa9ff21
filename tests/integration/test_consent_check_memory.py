"""Two consent replicas over one store and one broker, each answering checks from its own memory: a change made
through one (a statement, a suppression, a merge) reaches the other's answers through the consent topic, without
waiting for the memory to expire."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from cdp_common.broadcast import KeyFollower
from cdp_common.contracts.consent import StatementIn
from cdp_common.contracts.identity import PersonsMerged
from cdp_common.messaging import EventPublisher, make_broker
from cdp_common.store import Document
from cdp_common.topics import Topic
from cdp_consent.adapters.check_cache import CheckCache
from cdp_consent.adapters.subjects import ConsentSubjects
from cdp_consent.service_layer import ledger
from pymongo.asynchronous.database import AsyncDatabase

from tests.support.infra import Infra
from tests.support.kafka import eventually, private_topics

pytestmark = pytest.mark.integration


class Replica:
    def __init__(self, db: AsyncDatabase[Document], infra: Infra, topic: str, name: str) -> None:
        self.cache = CheckCache(ttl_seconds=3600)  # far longer than the test: only the topic can refresh it
        self.subjects = ConsentSubjects(db, self.cache)
        self.broker = make_broker(infra.kafka_bootstrap, f"test-{name}")
        self.publisher = EventPublisher(self.broker)
        self.follower = KeyFollower(infra.kafka_bootstrap, topic, f"test-{name}", self.cache.forget)

    async def allowed(self, pid: str) -> dict[str, Any]:
        [answer] = await ledger.check([pid], "email", "newsletter", self.subjects)
        return answer


@pytest.fixture
async def replicas(
    db: AsyncDatabase[Document], infra: Infra, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[list[Replica]]:
    [topic] = await private_topics(infra.kafka_bootstrap, "consent-events")
    monkeypatch.setattr(ledger, "CONSENT_EVENTS", Topic(topic, 3, "test"))
    pair = [Replica(db, infra, topic, n) for n in ("a", "b")]
    for r in pair:
        await r.broker.start()
        await r.follower.start()
    yield pair
    for r in pair:
        await r.follower.stop()
        await r.broker.stop()


def statement(pid: str, status: str, month: int) -> StatementIn:
    return StatementIn.model_validate(
        {
            "person_id": pid,
            "channel": "email",
            "purpose": "newsletter",
            "status": status,
            "source": "pos" if status == "granted" else "contest",
            "event_time": datetime(2026, month, 10, tzinfo=UTC).isoformat(),
            "legal_basis": "consent",
            "proof": {"text_version": "v1"},
        }
    )


class TestCheckMemoryAcrossReplicas:
    async def test_a_change_through_one_replica_reaches_the_others_answers(self, replicas: list[Replica]) -> None:
        a, b = replicas
        await ledger.record_statement(statement("p1", "granted", 1), a.subjects, a.publisher)
        # both replicas saw the two events (statement recorded, consent changed): now b remembers p1 as opted in
        await eventually(lambda: _seen(replicas, 2), timeout_s=10, interval_s=0.02)
        assert (await b.allowed("p1"))["allowed"] is True
        assert b.cache.get("p1") is not None

        # the March opt-out arrives through replica a; b must stop saying yes
        await ledger.record_statement(statement("p1", "withdrawn", 3), a.subjects, a.publisher)
        assert (await a.allowed("p1"))["status"] == "withdrawn"  # the writer's own memory: at once
        got = await eventually(lambda: _status_is(b, "p1", "withdrawn"), timeout_s=10, interval_s=0.02)
        assert got["allowed"] is False

        # a suppression
        await ledger.record_statement(statement("p2", "granted", 2), a.subjects, a.publisher)
        assert (await eventually(lambda: _status_is(b, "p2", "granted"), timeout_s=10))["allowed"]
        await ledger.suppress("p2", "asked not to be contacted", "staff", a.subjects, a.publisher)
        await eventually(lambda: _status_is(b, "p2", "suppressed"), timeout_s=10, interval_s=0.02)
        await ledger.unsuppress("p2", "staff", a.subjects, a.publisher)
        await eventually(lambda: _status_is(b, "p2", "granted"), timeout_s=10, interval_s=0.02)

        # a merge: asking b for the merged person now answers with the survivor's union ledger (p1 opted out later)
        assert (await b.allowed("p2"))["allowed"] is True
        merged = PersonsMerged(
            merge_id="m-1", survivor_id="p1", merged_id="p2", by="auto:test", merged_at=datetime.now(UTC)
        )
        await ledger.on_persons_merged(merged, a.subjects, a.publisher)
        await eventually(lambda: _status_is(b, "p2", "withdrawn"), timeout_s=10, interval_s=0.02)


async def _seen(replicas: list[Replica], n: int) -> bool:
    return all(r.follower.seen >= n for r in replicas)


async def _status_is(replica: Replica, pid: str, status: str) -> dict[str, Any] | None:
    answer = await replica.allowed(pid)
    return answer if answer["status"] == status else None
