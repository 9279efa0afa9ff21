"""The one place the contacts service is wired: settings, store, broker, subscribers, routes, background relay."""

from __future__ import annotations

import asyncio

from cdp_common.app import ServiceRuntime, create_app
from cdp_common.messaging import EventPublisher, make_broker
from cdp_common.settings import ServiceSettings
from fastapi import FastAPI

from cdp_contacts.adapters.repository import ContactRepository
from cdp_contacts.entrypoints.http import router
from cdp_contacts.service_layer.handlers import relay_outbox_once


class ContactsSettings(ServiceSettings):
    service_name: str = "contacts"
    http_port: int = 8001
    outbox_relay_interval_seconds: float = 2.0


TITLE = "CDP contacts service"
DESCRIPTION = "Golden records of customers: identification, descriptive, quantitative and qualitative data."


def build(settings: ContactsSettings | None = None) -> FastAPI:
    settings = settings or ContactsSettings()
    broker = make_broker(settings.kafka_bootstrap, f"cdp-{settings.service_name}", description=DESCRIPTION)
    publisher = EventPublisher(broker)
    # Documents what this service publishes in its AsyncAPI; the EventPublisher does the sending.
    broker.publisher(
        "cdp.contacts.events.v1",
        title="contact events",
        description="contact.created (later: updated, lifecycle_changed, merged, split, erased); key = contact id",
    )
    runtime = ServiceRuntime(settings=settings, broker=broker)

    async def start(rt: ServiceRuntime) -> None:
        repo = ContactRepository(rt.db)
        await repo.ensure_indexes()
        app.state.repo = repo
        app.state.publisher = publisher

        async def relay() -> None:
            while True:
                await asyncio.sleep(settings.outbox_relay_interval_seconds)
                try:
                    await relay_outbox_once(repo, publisher)
                except Exception:
                    import logging

                    logging.getLogger("cdp.contacts").exception("outbox relay pass failed")

        rt.spawn(relay(), "outbox-relay")

    app = create_app(runtime, title=TITLE, description=DESCRIPTION, routers=[router], on_startup=[start])
    return app
