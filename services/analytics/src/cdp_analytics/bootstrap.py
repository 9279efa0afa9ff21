"""The one place the analytics service is wired."""

from __future__ import annotations

from typing import Any

from cdp_common.app import ServiceRuntime, answer_privacy, consume, create_app
from cdp_common.contracts import interactions
from cdp_common.messaging import make_broker
from cdp_common.retention import INBOX, RetentionRule
from cdp_common.settings import ServiceSettings
from cdp_common.topics import CONTACT_EVENTS, INTERACTION_EVENTS
from fastapi import FastAPI

from cdp_analytics.adapters.facts import Facts
from cdp_analytics.entrypoints.http import router
from cdp_analytics.service_layer import handlers


class AnalyticsSettings(ServiceSettings):
    service_name: str = "analytics"
    http_port: int = 8004


TITLE = "CDP analytics service"
DESCRIPTION = "KPIs, segments, journey, dormancy and scores, from read models fed only by Kafka."


def build(settings: AnalyticsSettings | None = None) -> FastAPI:
    settings = settings or AnalyticsSettings()
    broker = make_broker(settings.kafka_bootstrap, f"cdp-{settings.service_name}", description=DESCRIPTION)
    runtime = ServiceRuntime(settings=settings, broker=broker)

    async def on_contact_created(event: Any, payload: Any) -> None:
        await handlers.on_contact_created(event, payload, app.state.facts)

    consume(
        runtime,
        CONTACT_EVENTS,
        {"contact.created": on_contact_created},
        title="analytics <- contact events",
        description="New contacts become facts for acquisition KPIs.",
    )

    async def on_interaction(event: Any, payload: Any) -> None:
        await handlers.on_interaction(event, payload, app.state.facts)

    kpi_inputs = [*interactions.EVENT_TYPES, "marketing.spend_recorded"]
    consume(
        runtime,
        INTERACTION_EVENTS,
        {t: on_interaction for t in kpi_inputs},
        title="analytics <- interactions",
        description="Orders, refunds, deals, surveys, email events, leads and spend become KPI facts.",
    )

    async def erase(person_id: str) -> dict[str, int]:
        return {"facts": await app.state.facts.erase_subject(person_id)}

    async def export(person_id: str) -> dict[str, Any]:
        return {"facts": await app.state.facts.of_subject(person_id)}

    answer_privacy(runtime, erase, export)

    async def start(rt: ServiceRuntime) -> None:
        app.state.facts = Facts(rt.db)
        await app.state.facts.ensure_indexes()

    app = create_app(
        runtime,
        title=TITLE,
        description=DESCRIPTION,
        routers=[router],
        on_startup=[start],
        retention=(
            INBOX,
            RetentionRule(
                "facts",
                "facts",
                "at",
                None,
                "KPI inputs, one per event; kept (set a period to drop old figures' inputs).",
            ),
        ),
    )
    return app
