"""The one place the identity service is wired."""

from __future__ import annotations

from typing import Any

from cdp_common.app import ServiceRuntime, answer_privacy, consume, create_app
from cdp_common.messaging import EventPublisher, make_broker
from cdp_common.settings import ServiceSettings
from cdp_common.topics import CONTACT_EVENTS, IDENTITY_EVENTS, IDENTITY_RECORDS
from fastapi import FastAPI

from cdp_identity.adapters.graph import IdentityGraph
from cdp_identity.entrypoints.http import router
from cdp_identity.service_layer import handlers


class IdentitySettings(ServiceSettings):
    service_name: str = "identity"
    http_port: int = 8002


TITLE = "CDP identity resolution service"
DESCRIPTION = "Decides who is who: source records, persons, links with their evidence, merges and their undoing."


def build(settings: IdentitySettings | None = None) -> FastAPI:
    settings = settings or IdentitySettings()
    broker = make_broker(settings.kafka_bootstrap, f"cdp-{settings.service_name}", description=DESCRIPTION)
    runtime = ServiceRuntime(settings=settings, broker=broker)

    publisher = EventPublisher(broker)
    broker.publisher(
        IDENTITY_EVENTS.name,
        title="identity events",
        description="identity.record_linked, persons_merged, merge_undone, review_needed, review_resolved",
    )

    async def on_contact_created(event: Any, payload: Any) -> None:
        await handlers.on_contact_created(event, payload, app.state.graph, publisher)

    async def on_record_observed(event: Any, payload: Any) -> None:
        await handlers.on_record_observed(event, payload, app.state.graph, publisher)

    consume(
        runtime,
        CONTACT_EVENTS,
        {"contact.created": on_contact_created},
        title="identity <- contact events",
        description="Contacts created by staff or imports are matched like any source record.",
    )
    consume(
        runtime,
        IDENTITY_RECORDS,
        {"identity.record_observed": on_record_observed},
        title="identity <- source records",
        description="Records from every channel, matched on arrival.",
    )

    async def erase(person_id: str) -> dict[str, int]:
        graph: IdentityGraph = app.state.graph
        return await graph.erase_person(person_id)

    async def export(person_id: str) -> dict[str, Any]:
        graph: IdentityGraph = app.state.graph
        return await graph.export_person(person_id)

    async def subjects_of(person_id: str) -> list[str]:
        graph: IdentityGraph = app.state.graph
        return await graph.subjects_of(person_id)

    answer_privacy(runtime, erase, export, subjects_of)

    async def start(rt: ServiceRuntime) -> None:
        app.state.graph = IdentityGraph(rt.db)
        app.state.publisher = publisher
        await app.state.graph.ensure_indexes()

    app = create_app(runtime, title=TITLE, description=DESCRIPTION, routers=[router], on_startup=[start])
    return app
