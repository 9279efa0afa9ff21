"""The one place the analytics service is wired."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from cdp_common.app import ServiceRuntime, answer_privacy, consume_batch, create_app
from cdp_common.contracts import interactions
from cdp_common.messaging import Delivery, EventPublisher, make_broker
from cdp_common.retention import INBOX, RetentionRule
from cdp_common.settings import ServiceSettings
from cdp_common.topics import ANALYTICS_EVENTS, CONTACT_EVENTS, INTERACTION_EVENTS
from fastapi import FastAPI
from pydantic import Field

from cdp_analytics.adapters.facts import HELD, Facts
from cdp_analytics.entrypoints.http import router
from cdp_analytics.service_layer import handlers, relationship
from cdp_analytics.service_layer.segments import Segments

log = logging.getLogger("cdp.analytics")


class AnalyticsSettings(ServiceSettings):
    service_name: str = "analytics"
    http_port: int = 8004
    batch_max_records: int = Field(
        5000,
        ge=1,
        le=50_000,
        description="Events handed to the analytics handler per poll at most: a batch costs four store round trips "
        "and one write per person and per day it touches, so larger batches share the day writes among more events.",
    )
    people_held: int = Field(
        HELD,
        ge=0,
        description="People documents each replica keeps in memory as last written (about 3 KB each), so that a "
        "batch reads only the others from the store; a document changed elsewhere meanwhile fails the batch's write, "
        "which is then redelivered and reads it afresh.",
    )
    evaluation_interval_seconds: float = Field(
        3600.0, description="How often every customer's RFM, journey stage and dormancy are evaluated (0: never)."
    )


FACT_RETENTION = (
    RetentionRule(
        "facts",
        "activity",
        "last_at",
        None,
        "Each person's summary (what segments read); kept (set a period to drop the summaries of people "
        "silent longer than it; the daily roll-ups stay, they hold no one's data).",
    ),
    RetentionRule(
        "facts",
        "activity_months",
        "last_at",
        None,
        "Each person's KPI inputs, one per event, by calendar month; kept (the same period drops the months "
        "whose latest event is older than it).",
    ),
)


TITLE = "CDP analytics service"
DESCRIPTION = "KPIs, segments, journey, dormancy and scores, from read models fed only by Kafka."


def build(settings: AnalyticsSettings | None = None) -> FastAPI:
    settings = settings or AnalyticsSettings()
    broker = make_broker(settings.kafka_bootstrap, f"cdp-{settings.service_name}", description=DESCRIPTION)
    runtime = ServiceRuntime(settings=settings, broker=broker)

    async def on_batch(deliveries: list[Delivery]) -> None:
        await handlers.on_batch(deliveries, app.state.facts, app.state.segments)

    consume_batch(
        runtime,
        CONTACT_EVENTS,
        ["contact.created"],
        on_batch,
        title="analytics <- contact events",
        description="New contacts become facts for acquisition KPIs (a poll at a time).",
        max_records=settings.batch_max_records,
    )
    consume_batch(
        runtime,
        INTERACTION_EVENTS,
        [*interactions.EVENT_TYPES, "marketing.spend_recorded"],
        on_batch,
        title="analytics <- interactions",
        description="Orders, refunds, deals, surveys, email events, leads and spend become KPI facts and daily "
        "roll-ups (a poll at a time).",
        max_records=settings.batch_max_records,
    )

    async def erase(person_id: str) -> dict[str, int]:
        scores = (await runtime.db["customer_scores"].delete_many({"_id": person_id})).deleted_count
        memberships = await app.state.segments.erase(person_id)
        facts = await app.state.facts.erase_subject(person_id)
        return {"facts": facts, "customer_scores": scores, "segment_memberships": memberships}

    async def export(person_id: str) -> dict[str, Any]:
        scores = await runtime.db["customer_scores"].find_one({"_id": person_id})
        return {"facts": await app.state.facts.of_subject(person_id), "customer_scores": scores}

    answer_privacy(runtime, erase, export)

    publisher = EventPublisher(broker)
    broker.publisher(
        ANALYTICS_EVENTS.name,
        title="analytics events",
        description="analytics.scores_updated (RFM, journey stage), analytics.dormancy_detected; key = contact id",
    )

    async def evaluate_every(interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await relationship.evaluate(
                    app.state.facts, runtime.db, publisher, datetime.now(UTC), segments=app.state.segments
                )
            except Exception:
                log.exception("evaluating relationships failed; trying again at the next interval")

    async def upgrade(facts: Facts) -> None:
        """Documents written before summaries existed, and summaries of an older version (each person is also
        upgraded when an event touches them)."""
        if moved := await facts.upgrade():
            log.info("people upgraded to summaries and monthly facts", extra={"people": moved})
        if rebuilt := await facts.refresh():
            log.info("summaries of an older version rebuilt from the facts", extra={"people": rebuilt})

    async def start(rt: ServiceRuntime) -> None:
        app.state.facts = Facts(rt.db, settings.people_held)
        rt.spawn(upgrade(app.state.facts), "upgrade-facts")
        app.state.db = rt.db
        app.state.publisher = publisher
        app.state.segments = Segments(rt.db, publisher)
        await app.state.segments.ensure_built_in(datetime.now(UTC))
        if settings.evaluation_interval_seconds > 0:
            rt.spawn(evaluate_every(settings.evaluation_interval_seconds), "evaluate-relationships")

    app = create_app(
        runtime,
        title=TITLE,
        description=DESCRIPTION,
        routers=[router],
        on_startup=[start],
        retention=(
            INBOX,
            RetentionRule(
                "customer_scores",
                "customer_scores",
                "evaluated_at",
                None,
                "Each customer's last published RFM, stage and dormancy; rebuilt by the next evaluation.",
            ),
            *FACT_RETENTION,
        ),
    )
    return app
