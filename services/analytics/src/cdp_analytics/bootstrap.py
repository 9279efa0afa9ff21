"""The one place the analytics service is wired."""

from __future__ import annotations

from typing import Any

from cdp_common.app import ServiceRuntime, consume, create_app
from cdp_common.messaging import make_broker
from cdp_common.settings import ServiceSettings
from cdp_common.topics import CONTACT_EVENTS
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

    async def start(rt: ServiceRuntime) -> None:
        app.state.facts = Facts(rt.db)
        await app.state.facts.ensure_indexes()

    app = create_app(runtime, title=TITLE, description=DESCRIPTION, routers=[router], on_startup=[start])
    return app
