"""The one place the contacts service is wired: settings, store, broker, subscribers, routes, background relay."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from typing import Any

from cdp_common.app import ServiceRuntime, answer_privacy, consume, consume_batch, create_app
from cdp_common.broadcast import KeyFollower
from cdp_common.contracts import interactions
from cdp_common.messaging import Delivery, EventPublisher, make_broker
from cdp_common.settings import ServiceSettings
from cdp_common.topics import (
    ANALYTICS_EVENTS,
    CONSENT_EVENTS,
    CONTACT_EVENTS,
    IDENTITY_EVENTS,
    INTERACTION_EVENTS,
    PRIVACY_REQUESTS,
)
from fastapi import FastAPI
from pydantic import Field

from cdp_contacts.adapters.read_models import ReadModels
from cdp_contacts.adapters.repository import ContactRepository
from cdp_contacts.adapters.search_index import SearchIndex
from cdp_contacts.adapters.settings_store import ConfigStore
from cdp_contacts.adapters.timeline import Timeline
from cdp_contacts.domain.lifecycle import LifecycleRules
from cdp_contacts.entrypoints import admin
from cdp_contacts.entrypoints.fast_read import FastContactRead
from cdp_contacts.entrypoints.http import router
from cdp_contacts.service_layer import followers, handlers, privacy

log = logging.getLogger("cdp.contacts")


class ContactsSettings(ServiceSettings):
    service_name: str = "contacts"
    http_port: int = 8001
    outbox_relay_interval_seconds: float = 2.0
    evangelist_after_purchases: int = 5
    search_in_memory: bool = Field(
        True,
        description="Answer contact search from each replica's memory (kept current by following contact events); "
        "off: every search is a store query.",
    )
    interaction_batch_max_records: int = Field(
        500,
        ge=1,
        le=10_000,
        description="Interactions handed to the timeline handler per poll at most (offsets are committed per poll).",
    )
    interaction_concurrency: int = Field(
        32,
        ge=1,
        le=256,
        description="People of one poll whose interactions are applied at the same time (each person's in order).",
    )


TITLE = "CDP contacts service"
DESCRIPTION = "Golden records of customers: identification, descriptive, quantitative and qualitative data."


async def follow_for_search(rt: ServiceRuntime, repo: ContactRepository) -> None:
    """Search memory: follow contact events and privacy answers first (so nothing written during the scan is missed),
    then scan once in the background; contacts named by events are read again every 100 ms, in batches."""
    repo.memory = memory = SearchIndex()
    changed: set[str] = set()
    # contact events name every change; a privacy answer names a person another replica has just erased
    followers = [
        KeyFollower(rt.settings.kafka_bootstrap, topic.name, rt.settings.group_id, changed.update)
        for topic in (CONTACT_EVENTS, PRIVACY_REQUESTS)
    ]
    for follower in followers:
        await follower.start()
        rt.on_shutdown.append(follower.stop)
    repo.memory_current = lambda: all(f.current() for f in followers)

    async def keep_current() -> None:
        while not memory.ready:
            started = time.monotonic()
            try:
                n = await repo.load_search_index()
            except Exception:  # the store is away: search goes to the store meanwhile, and the scan starts again
                log.exception("search memory could not be loaded; retrying")
                await asyncio.sleep(2.0)
                continue
            log.info("search memory loaded", extra={"contacts": n, "seconds": round(time.monotonic() - started, 1)})
            # the memory lives as long as the process: out of the collector's sight, or every full collection
            # walks it (25 ms on average with 60,000 contacts, up to 250 ms; a pause for every request)
            gc.freeze()
        while True:
            batch = [changed.pop() for _ in range(min(len(changed), 1000))]
            if batch:
                try:
                    await repo.refresh_search_index(batch)
                except Exception:
                    changed.update(batch)
                    log.exception("search memory refresh failed; retrying")
                    await asyncio.sleep(1.0)
            else:
                await asyncio.sleep(0.1)

    rt.spawn(keep_current(), "search-memory")


def build(settings: ContactsSettings | None = None) -> FastAPI:
    settings = settings or ContactsSettings()
    broker = make_broker(settings.kafka_bootstrap, f"cdp-{settings.service_name}", description=DESCRIPTION)
    publisher = EventPublisher(broker)
    # Documents what this service publishes in its AsyncAPI; the EventPublisher does the sending.
    broker.publisher(
        CONTACT_EVENTS.name,
        title="contact events",
        description="contact.created, updated, lifecycle_changed, lead_status_changed, merged, split, erased; "
        "key = contact id",
    )
    runtime = ServiceRuntime(settings=settings, broker=broker)

    async def on_interactions(deliveries: list[Delivery]) -> None:
        await handlers.apply_interactions(
            [(d.envelope, d.payload) for d in deliveries], app.state.deps, settings.interaction_concurrency
        )

    def follow(fn: Any) -> Any:
        async def handler(event: Any, payload: Any) -> None:
            await fn(event, payload, app.state.deps)

        return handler

    async def on_identity(deliveries: list[Delivery]) -> None:
        await followers.on_identity_decisions([(d.envelope, d.payload) for d in deliveries], app.state.deps)

    consume_batch(
        runtime,
        IDENTITY_EVENTS,
        ["identity.record_linked", "identity.persons_merged", "identity.merge_undone"],
        on_identity,
        title="contacts <- identity decisions",
        description="Linked records add candidate values; merges join profiles and timelines; undoing splits them "
        "(a poll at a time, in order).",
        use_inbox=True,
    )
    consume(
        runtime,
        CONSENT_EVENTS,
        {"consent.changed": follow(followers.on_consent_changed)},
        title="contacts <- consent changes",
        description="Consent state for the 360° view; a newsletter opt-in makes a subscriber.",
    )
    consume(
        runtime,
        ANALYTICS_EVENTS,
        {
            "analytics.scores_updated": follow(followers.on_scores_updated),
            "segment.entered": follow(followers.on_segment),
            "segment.exited": follow(followers.on_segment),
        },
        title="contacts <- analytics",
        description="Scores and segment membership for the 360° view.",
    )
    consume_batch(
        runtime,
        INTERACTION_EVENTS,
        interactions.EVENT_TYPES,
        on_interactions,
        title="contacts <- interactions",
        description="Every interaction joins the timeline once; figures and lifecycle follow (a poll at a time, "
        "many people at once, each person's events in order).",
        max_records=settings.interaction_batch_max_records,
        use_inbox=True,
    )

    async def erase(person_id: str) -> dict[str, int]:
        return await privacy.erase(person_id, app.state.deps)

    async def export(person_id: str) -> dict[str, Any]:
        return await privacy.export(person_id, app.state.deps)

    answer_privacy(runtime, erase, export)

    async def start(rt: ServiceRuntime) -> None:
        deps = handlers.Deps(
            repo=ContactRepository(rt.db),
            timeline=Timeline(rt.db),
            config=ConfigStore(rt.db),
            views=ReadModels(rt.db),
            publisher=publisher,
            lifecycle=LifecycleRules(evangelist_after_purchases=settings.evangelist_after_purchases),
        )
        await deps.repo.ensure_indexes()
        await deps.timeline.ensure_indexes()
        app.state.deps = deps
        if settings.search_in_memory:
            await follow_for_search(rt, deps.repo)

        async def relay() -> None:
            while True:
                await asyncio.sleep(settings.outbox_relay_interval_seconds)
                try:
                    await handlers.relay_outbox_once(deps)
                except Exception:
                    log.exception("outbox relay pass failed")

        rt.spawn(relay(), "outbox-relay")

    app = create_app(
        runtime,
        title=TITLE,
        description=DESCRIPTION,
        routers=[router, admin.router],
        on_startup=[start],
        hot_routes=("/v1/contacts/{contact_id}",),  # profile reads: logged only when they fail or are slow
        fast_paths=[(FastContactRead, {"routers": [router, admin.router]})],
    )
    return app
