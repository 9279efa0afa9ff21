"""Evaluating relationships against the real store and broker: a weekly buyer gone silent is announced once, a
yearly buyer is left alone, a re-run announces nothing new, and a new purchase ends the silent period."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from cdp_analytics.adapters.facts import Facts
from cdp_analytics.domain.customers import customers_from
from cdp_analytics.domain.segments import Rules
from cdp_analytics.service_layer import relationship
from cdp_analytics.service_layer import segments as segments_module
from cdp_analytics.service_layer.segments import Segments
from cdp_common.messaging import EventPublisher, make_broker
from cdp_common.store import Document
from cdp_common.topics import Topic
from pymongo.asynchronous.database import AsyncDatabase

from tests.support.infra import Infra
from tests.support.kafka import private_topics, read_all

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
async def publisher(infra: Infra, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[EventPublisher, str]]:
    [topic] = await private_topics(infra.kafka_bootstrap, "analytics-events")
    for module in (relationship, segments_module):
        monkeypatch.setattr(module, "ANALYTICS_EVENTS", Topic(topic, 3, "test"))
    broker = make_broker(infra.kafka_bootstrap, "test-analytics")
    await broker.start()
    yield EventPublisher(broker), topic
    await broker.stop()


async def paid(facts: Facts, subject: str, days_ago: float, n: int) -> None:
    await facts.record(f"{subject}-{n}", "order.paid", subject, NOW - timedelta(days=days_ago), amount=185_000.0)


async def test_silence_is_announced_once_per_period(
    db: AsyncDatabase[Document], infra: Infra, publisher: tuple[EventPublisher, str]
) -> None:
    pub, topic = publisher
    facts = Facts(db)
    for n, ago in enumerate((30, 37, 44, 51, 58)):
        await paid(facts, "weekly", ago, n)
    for n, ago in enumerate((60, 425, 790)):
        await paid(facts, "yearly", ago, n)

    first = await relationship.evaluate(facts, db, pub, NOW)
    assert (first.customers, first.scores_published, first.dormant_published, first.dormant_now) == (2, 2, 1, 1)
    again = await relationship.evaluate(facts, db, pub, NOW + timedelta(hours=1))
    assert (again.scores_published, again.dormant_published, again.dormant_now) == (0, 0, 1)

    records = await read_all(infra.kafka_bootstrap, topic, expect=3)
    kinds = sorted((r.key.decode(), json.loads(r.value)["type"]) for r in records)
    assert kinds == [
        ("weekly", "analytics.dormancy_detected"),
        ("weekly", "analytics.scores_updated"),
        ("yearly", "analytics.scores_updated"),
    ]
    stored = await db["customer_scores"].find_one({"_id": "weekly"})
    assert stored is not None and stored["dormant"]["expected_gap_days"] == 7 and stored["journey_stage"] == "advocacy"

    await paid(facts, "weekly", 0, 99)  # the customer came back: the silent period is over
    back = await relationship.evaluate(facts, db, pub, NOW + timedelta(hours=2))
    assert back.dormant_now == 0
    later = await relationship.evaluate(facts, db, pub, NOW + timedelta(days=30))
    assert later.dormant_published == 1  # a new silence is a new period, announced again


async def test_segment_membership_follows_events_and_time(
    db: AsyncDatabase[Document], infra: Infra, publisher: tuple[EventPublisher, str]
) -> None:
    pub, topic = publisher
    facts = Facts(db)
    segments = Segments(db, pub)
    now = datetime.now(UTC)
    await segments.ensure_built_in(now)
    rules = Rules.model_validate(
        {"all": [{"metric": "count", "kind": "email.opened", "within_days": 30, "op": "gte", "value": 1}]}
    )
    await segments.define("readers", "Opened an email in the last 30 days", rules, None, now)
    await segments.define("vip-list", "Hand-picked", None, ["p1"], now)

    # an event arrives: the consumer's handler evaluates its subject at once
    await facts.record("e1", "email.opened", "p1", now - timedelta(days=1))
    assert await segments.refresh_subject(facts, "p1", now) == 2  # readers and the static list
    assert await segments.member_ids("readers") == {"p1"} and await segments.member_ids("vip-list") == {"p1"}
    assert await segments.refresh_subject(facts, "p1", now) == 0

    # thirty days pass with no event: the periodic evaluation takes p1 out of the readers
    later = now + timedelta(days=31)
    assert await segments.refresh_all(customers_from(await facts.until(later)), later) == 1
    assert await segments.member_ids("readers") == set() and await segments.member_ids("vip-list") == {"p1"}

    records = await read_all(infra.kafka_bootstrap, topic, expect=3)
    kinds = sorted(json.loads(r.value)["type"] for r in records)
    assert kinds == ["segment.entered", "segment.entered", "segment.exited"]


async def test_a_new_segment_is_evaluated_over_every_customer_a_chunk_at_a_time(
    db: AsyncDatabase[Document], publisher: tuple[EventPublisher, str]
) -> None:
    """Defining a segment evaluates it over the customers already known (here 2 at a time over 5 people, one of
    them a campaign's spend): members in, a former member out, the state kept on the definition."""
    pub, _ = publisher
    facts = Facts(db)
    segments = Segments(db, pub)
    now = datetime.now(UTC)
    for i, days_ago in enumerate([3, 10, 45, 2]):
        await facts.record(f"o{i}", "order.paid", f"q{i}", now - timedelta(days=days_ago), amount=1_000_000.0 * i)
    await facts.record("s1", "marketing.spend_recorded", "camp-1", now, amount=9e9)
    rules = Rules.model_validate({"all": [{"metric": "revenue", "within_days": 30, "op": "gte", "value": 1_000_000}]})
    await segments.define("recent", "Spent 1,000,000 VND in 30 days", rules, None, now)
    await segments.members.insert_one({"_id": "recent|q0", "segment_id": "recent", "contact_id": "q0", "since": now})
    assert await segments.evaluate_one(facts, "recent", now, chunk=2) == 3  # q1 and q3 in, q0 out
    assert await segments.member_ids("recent") == {"q1", "q3"}  # q2 spent too long ago
    evaluation = (await segments.defs.find_one({"_id": "recent"}) or {})["evaluation"]
    assert evaluation["state"] == "done" and evaluation["members"] == 2 and evaluation["changed"] == 3
    assert await segments.evaluate_one(facts, "recent", now, chunk=2) == 0


async def test_reorders_are_announced_once_before_the_run_out_and_lifetime_values_are_predicted(
    db: AsyncDatabase[Document], infra: Infra, publisher: tuple[EventPublisher, str]
) -> None:
    pub, topic = publisher
    facts = Facts(db)
    await db["consumables"].insert_one({"_id": "rice-st25-5kg", "name": "Gạo ST25 túi 5 kg", "days_per_unit": 20})
    lines = [{"sku": "rice-st25-5kg", "quantity": 1}]
    # she buys a bag every 15 days; the last one 10 days ago: it runs out in 5 days, the reminder is due now
    for n, ago in enumerate((40, 25, 10)):
        at = NOW - timedelta(days=ago)
        await facts.record(f"rice-{n}", "order.paid", "rice-buyer", at, amount=185_000.0, lines=lines)
    # a population to learn lifetime values from: regular buyers and one-off buyers
    for i in range(30):
        for n in range(6 if i % 2 else 1):
            await paid(facts, f"shopper-{i}", 300 - n * 50 - i, n)

    first = await relationship.evaluate(facts, db, pub, NOW)
    assert first.reorders_published == 1 and first.clv_predicted == 31
    again = await relationship.evaluate(facts, db, pub, NOW + timedelta(hours=1))
    assert again.reorders_published == 0

    records = await read_all(infra.kafka_bootstrap, topic, expect=32)
    reorders = [json.loads(r.value) for r in records if json.loads(r.value)["type"] == "analytics.reorder_due"]
    assert [(r["subject"], r["data"]["sku"], r["data"]["basis"]) for r in reorders] == [
        ("rice-buyer", "rice-st25-5kg", "own_rhythm")
    ]
    assert reorders[0]["data"]["days_per_unit"] == 15.0
    stored = await db["customer_scores"].find_one({"_id": "rice-buyer"})
    assert stored is not None and stored["replenishment"][0]["due"] is True
    regular = await db["customer_scores"].find_one({"_id": "shopper-1"})
    one_off = await db["customer_scores"].find_one({"_id": "shopper-0"})
    assert regular is not None and one_off is not None
    assert regular["predicted_clv"]["clv_12_months"] > one_off["predicted_clv"]["clv_12_months"] > 0
