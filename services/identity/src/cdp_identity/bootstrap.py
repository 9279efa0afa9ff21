"""The one place the identity service is wired."""

from __future__ import annotations

from typing import Any, cast

from cdp_common.app import ServiceRuntime, answer_privacy, consume_batch, create_app
from cdp_common.contracts.contacts import ContactCreated
from cdp_common.contracts.identity import SourceRecordObserved
from cdp_common.messaging import Delivery, EventPublisher, make_broker
from cdp_common.settings import ServiceSettings
from cdp_common.topics import CONTACT_EVENTS, IDENTITY_EVENTS, IDENTITY_RECORDS
from fastapi import FastAPI
from pydantic import Field

from cdp_identity.adapters.graph import IdentityGraph
from cdp_identity.entrypoints.http import router
from cdp_identity.service_layer import handlers


class IdentitySettings(ServiceSettings):
    service_name: str = "identity"
    http_port: int = 8002
    match_batch_max_records: int = Field(
        200,
        ge=1,
        le=5_000,
        description="Records matched together per poll at most (a poll costs a few store round trips in all; "
        "offsets are committed per poll).",
    )


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

    async def on_contacts_created(deliveries: list[Delivery]) -> None:
        created = [(d.envelope, cast(ContactCreated, d.payload)) for d in deliveries]
        await handlers.on_contacts_created(created, app.state.graph, publisher)

    async def on_records_observed(deliveries: list[Delivery]) -> None:
        records = [(d.envelope, cast(SourceRecordObserved, d.payload)) for d in deliveries]
        await handlers.on_records_observed(records, app.state.graph, publisher)

    consume_batch(
        runtime,
        CONTACT_EVENTS,
        ["contact.created"],
        on_contacts_created,
        title="identity <- contact events",
        description="Contacts created by staff or imports are matched like any source record (a poll at a time).",
        max_records=settings.match_batch_max_records,
        use_inbox=True,
    )
    consume_batch(
        runtime,
        IDENTITY_RECORDS,
        ["identity.record_observed"],
        on_records_observed,
        title="identity <- source records",
        description="Records from every channel, matched on arrival (a poll at a time, in order).",
        max_records=settings.match_batch_max_records,
        use_inbox=True,
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
