"""The one place the consent service is wired."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from typing import Any, cast

from cdp_common.app import ServiceRuntime, consume, consume_batch, create_app, privacy_handlers
from cdp_common.broadcast import KeyFollower
from cdp_common.contracts.contacts import ContactCreated
from cdp_common.messaging import Delivery, EventPublisher, make_broker
from cdp_common.retention import INBOX, RetentionRule
from cdp_common.settings import ServiceSettings
from cdp_common.topics import CONSENT_EVENTS, CONTACT_EVENTS, IDENTITY_EVENTS, PRIVACY_REQUESTS
from fastapi import FastAPI
from pydantic import Field

from cdp_consent.adapters.check_cache import CheckCache
from cdp_consent.adapters.subjects import ConsentSubjects
from cdp_consent.entrypoints import fast_check
from cdp_consent.entrypoints.http import answer_check, privacy_router, router
from cdp_consent.service_layer import handlers, ledger, privacy


class ConsentSettings(ServiceSettings):
    service_name: str = "consent"
    http_port: int = 8003
    check_cache_seconds: float = Field(
        600.0,
        description="How long a replica answers a person's checks from memory before reading them again (0: no "
        "memory). Changes reach every replica's memory through the consent topic within milliseconds; while that "
        "follower is not current the memory is not used.",
    )
    check_cache_entries: int = Field(100_000, description="Persons a replica remembers for checks (oldest go first).")
    check_cache_warm: bool = Field(
        True, description="Read every subject into memory at start and every half `check_cache_seconds`."
    )


RETENTION = (
    INBOX,
    RetentionRule(
        "privacy_exports",
        "privacy_exports",
        "created_at",
        30,
        "Gathered exports hold a person's whole data; kept long enough to be downloaded.",
    ),
    RetentionRule(
        "privacy_requests",
        "privacy_requests",
        "requested_at",
        2190,
        "The record that a request was made and carried out (ids, counts, who, why): proof of compliance.",
    ),
    RetentionRule(
        "consent_audit", "consent_audit", "at", 2190, "Who changed whose consent, when and why (append-only)."
    ),
)

log = logging.getLogger("cdp.consent")

TITLE = "CDP consent and privacy service"
DESCRIPTION = "Every permission with its proof, effective consent by policy, privacy requests carried everywhere."


async def warm_every(subjects: ConsentSubjects, interval_s: float) -> None:
    while True:
        started = time.perf_counter()
        try:
            n = await subjects.warm()
        except Exception:  # the store may be away for a while; checks then read it as they can
            log.exception("warming the check memory failed; trying again later")
        else:
            log.info("check memory warmed", extra={"subjects": n, "seconds": round(time.perf_counter() - started, 2)})
            gc.freeze()  # the remembered views are long-lived: keep full collections from walking them each time
        await asyncio.sleep(interval_s)


async def refresh_stale_every(subjects: ConsentSubjects, interval_s: float) -> None:
    """Persons who changed are read again shortly after, in batches, so checks keep being answered from memory."""
    while True:
        try:
            n = await subjects.refresh_stale()
        except Exception:  # the store may be away for a while; the forgotten persons are read on their next check
            log.exception("reading changed persons into the check memory failed")
            n = 0
        if n == 0:
            await asyncio.sleep(interval_s)


def build(settings: ConsentSettings | None = None) -> FastAPI:
    settings = settings or ConsentSettings()
    broker = make_broker(settings.kafka_bootstrap, f"cdp-{settings.service_name}", description=DESCRIPTION)
    runtime = ServiceRuntime(settings=settings, broker=broker)

    async def on_contacts_created(deliveries: list[Delivery]) -> None:
        await handlers.on_contacts_created([cast(ContactCreated, d.payload) for d in deliveries], app.state.subjects)

    consume_batch(
        runtime,
        CONTACT_EVENTS,
        ["contact.created"],
        on_contacts_created,
        title="consent <- contact events",
        description="New contacts become consent subjects with their reachable channels (a poll at a time).",
    )

    publisher = EventPublisher(broker)

    async def on_persons_merged(event: Any, payload: Any) -> None:
        await ledger.on_persons_merged(payload, app.state.subjects, publisher)

    async def on_merge_undone(event: Any, payload: Any) -> None:
        await ledger.on_merge_undone(payload, app.state.subjects, publisher)

    consume(
        runtime,
        IDENTITY_EVENTS,
        {"identity.persons_merged": on_persons_merged, "identity.merge_undone": on_merge_undone},
        title="consent <- identity events",
        description="Merged persons' ledgers are combined and resolved again; an undone merge separates them.",
    )
    broker.publisher(
        CONSENT_EVENTS.name,
        title="consent events",
        description="consent.statement_recorded, consent.changed; key = person id",
    )

    async def erase(person_id: str) -> dict[str, int]:
        return await privacy.erase(person_id, app.state.subjects, publisher)

    async def export(person_id: str) -> dict[str, Any]:
        return await privacy.export(person_id, app.state.subjects)

    async def on_answered(event: Any, payload: Any) -> None:
        await privacy.on_answered(payload, runtime.db)

    # one consumer of the privacy topic: answer like every service, and keep the report as the coordinator
    consume(
        runtime,
        PRIVACY_REQUESTS,
        {**privacy_handlers(runtime, erase, export), "privacy.answered": on_answered},
        title="consent <- privacy requests and answers",
        description="Carries out privacy requests on the ledger and collects every service's answer.",
    )

    cache = CheckCache(settings.check_cache_seconds, settings.check_cache_entries)
    # every replica forgets what it remembers of a person as soon as any replica publishes about them
    follower = KeyFollower(settings.kafka_bootstrap, CONSENT_EVENTS.name, f"cdp-{settings.service_name}", cache.forget)

    async def start(rt: ServiceRuntime) -> None:
        app.state.subjects = ConsentSubjects(rt.db, cache)
        app.state.publisher = publisher
        if cache.enabled:
            await follower.start()
            cache.current = follower.current
            rt.on_shutdown.append(follower.stop)
            if settings.check_cache_warm:
                rt.spawn(warm_every(app.state.subjects, settings.check_cache_seconds / 2), "warm-check-memory")
                cache.refresh_ahead = True
                rt.spawn(refresh_stale_every(app.state.subjects, 0.05), "refresh-check-memory")

    app = create_app(
        runtime,
        title=TITLE,
        description=DESCRIPTION,
        routers=[router, privacy_router],
        on_startup=[start],
        retention=RETENTION,
        hot_routes=(fast_check.PATH,),
        fast_paths=[(fast_check.FastCheck, {"answer": answer_check})],
    )
    return app
