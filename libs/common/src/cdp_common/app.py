"""The one app factory every service and the gateway use: lifespan wiring, health, readiness, metrics, AsyncAPI,
problem+json, request logs. A service passes its routers, its start-up hooks (indexes, background relays) and its
broker with subscribers already registered."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from cdp_common.contracts import REGISTRY
from cdp_common.logs import configure_logging, trace_id_var
from cdp_common.messaging import (
    BatchEventConsumer,
    BatchHandler,
    EventConsumer,
    Handler,
    Inbox,
    attach_keys,
    subscribe,
    subscribe_batch,
)
from cdp_common.metrics import HTTP_REQUESTS, HTTP_SECONDS, observe_gc_pauses, render
from cdp_common.problems import PROBLEM_JSON, install_problem_handlers
from cdp_common.retention import INBOX, RetentionJob, RetentionRule
from cdp_common.settings import ServiceSettings
from cdp_common.shredding import SubjectKeys
from cdp_common.stalls import StallWatch
from cdp_common.store import Document, open_client, ping
from cdp_common.topics import Topic, dead_letter_topic

log = logging.getLogger("cdp.app")

Hook = Callable[["ServiceRuntime"], Awaitable[None]]


GC_THRESHOLDS = (100_000, 20, 10)


@dataclass
class ServiceRuntime:
    """What a running service holds: its settings, its own database, its broker. Built once per process."""

    settings: ServiceSettings
    broker: KafkaBroker | None
    client: AsyncMongoClient[Document] | None = None
    background: list[asyncio.Task[None]] = field(default_factory=list)
    on_shutdown: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    keys: SubjectKeys | None = None

    def __post_init__(self) -> None:
        if self.broker is not None and self.settings.shred_personal_data and self.keys is None:
            self.keys = SubjectKeys(
                self.settings.kafka_bootstrap,
                self.settings.data_key_secret.get_secret_value(),
                f"cdp-{self.settings.service_name}",
            )
            attach_keys(self.broker, self.keys)

    @property
    def db(self) -> AsyncDatabase[Document]:
        assert self.client is not None, "the store is opened in the lifespan"
        return self.client[self.settings.database_name]

    def spawn(self, coro: Awaitable[None], name: str) -> None:
        async def guarded() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background task crashed", extra={"task": name})

        task = asyncio.create_task(guarded(), name=name)
        self.background.append(task)
        task.add_done_callback(lambda t: self.background.remove(t) if t in self.background else None)


def _conventions(runtime: ServiceRuntime) -> dict[str, Any]:
    """What every consumer of this service shares: its group, dead-letter topic, catalogue, inbox and back-off."""
    assert runtime.broker is not None
    return {
        "group_id": runtime.settings.group_id,
        "dead_letter_topic": dead_letter_topic(runtime.settings.service_name).name,
        "registry": REGISTRY,
        "inbox": Inbox(lambda: runtime.db, runtime.settings.group_id),
        "publisher_broker": runtime.broker,
        "retry_backoff_seconds": runtime.settings.retry_backoff_seconds,
    }


def consume(
    runtime: ServiceRuntime,
    topic: Topic,
    handlers: dict[str, Handler],
    *,
    title: str,
    description: str,
) -> EventConsumer:
    """Subscribe this service's consumer group to `topic`, routing event types to `handlers`."""
    consumer = EventConsumer(**_conventions(runtime), handlers=dict(handlers))
    assert runtime.broker is not None
    subscribe(runtime.broker, topic.name, consumer, title=title, description=description)
    return consumer


def consume_batch(
    runtime: ServiceRuntime,
    topic: Topic,
    types: Iterable[str],
    handler: BatchHandler,
    *,
    title: str,
    description: str,
    max_records: int = 1000,
    use_inbox: bool = False,
) -> BatchEventConsumer:
    """Subscribe this service's consumer group to `topic`, handing the events of `types` to `handler` a poll at a
    time (the handler is idempotent on its own, or with `use_inbox` is spared the events already processed: see
    `BatchEventConsumer`)."""
    consumer = BatchEventConsumer(
        **_conventions(runtime), types=frozenset(types), batch_handler=handler, use_inbox=use_inbox
    )
    assert runtime.broker is not None
    subscribe_batch(runtime.broker, topic.name, consumer, title=title, description=description, max_records=max_records)
    return consumer


def asyncapi_document(broker: KafkaBroker, title: str, description: str) -> dict[str, Any]:
    spec = AsyncAPI(broker, title=title, version="1.0.0", description=description, schema_version="3.0.0")
    result: dict[str, Any] = spec.to_specification().to_jsonable()
    return result


class ObserveRequests:
    """Trace id, metrics and one log line per request, as a plain ASGI middleware (Starlette's `BaseHTTPMiddleware`
    costs a task and a stream per request, a good part of a fast route's time). Routes in `hot` (answered
    thousands of times a second, such as the consent check) are counted like every route but logged only when
    they fail or are slow."""

    QUIET = frozenset({"/health", "/ready", "/metrics"})
    SLOW_SECONDS = 0.25

    def __init__(self, app: Any, hot: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.hot = hot
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def _metrics(self, method: str, template: str, status: int) -> tuple[Any, Any]:
        key = (method, template, status)
        found = self._children.get(key)
        if found is None:  # labels() takes a lock and builds a key each time: look each child up once
            found = (HTTP_REQUESTS.labels(method, template, str(status)), HTTP_SECONDS.labels(method, template))
            self._children[key] = found
        return found

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        trace = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), None)
        trace = trace or uuid.uuid4().hex
        token = trace_id_var.set(trace)
        started = time.perf_counter()
        status = 500
        trace_header = (b"x-request-id", trace.encode("latin-1"))

        async def send_with_trace(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), trace_header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_trace)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            method = scope["method"]
            elapsed = time.perf_counter() - started
            count, seconds = self._metrics(method, template, status)
            count.inc()
            seconds.observe(elapsed)
            if template not in self.QUIET and (
                template not in self.hot or status >= 400 or elapsed >= self.SLOW_SECONDS
            ):
                log.info(
                    "http request",
                    extra={"method": method, "route": template, "status": status, "ms": round(elapsed * 1e3, 1)},
                )
            trace_id_var.reset(token)


def create_app(
    runtime: ServiceRuntime,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter] = (),
    on_startup: Sequence[Hook] = (),
    uses_store: bool = True,
    retention: Sequence[RetentionRule] = (INBOX,),
    hot_routes: Sequence[str] = (),
    fast_paths: Sequence[tuple[Any, dict[str, Any]]] = (),
) -> FastAPI:
    settings = runtime.settings
    retention_job = RetentionJob(list(retention), dict(settings.retention_days)) if uses_store else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.service_name, settings.log_level)
        observe_gc_pauses()
        stalls = StallWatch(settings.stall_report_ms)
        await stalls.start()
        runtime.on_shutdown.append(stalls.stop)
        if uses_store:
            runtime.client = open_client(settings.mongodb_uri, settings.service_name)
        if runtime.keys is not None:  # before any event is read or written
            await runtime.keys.start()
        for hook in on_startup:
            await hook(runtime)
        if runtime.broker is not None:
            await runtime.broker.start()
        # what start-up built (modules, schemas, the app) lives as long as the process: out of the collector's
        # sight, so its full collections do not walk it again and again (each one a pause for every request)
        gc.freeze()
        # and collections far rarer than Python's default (one per 700 new containers): a batch decodes and builds
        # hundreds of thousands of short-lived acyclic dicts and lists, which the default kept walking (the analytics
        # batch spent a third of its CPU in the collector; decoding 24,000 summaries took 270-640 ms, 100 ms without)
        gc.set_threshold(*GC_THRESHOLDS)
        if retention_job is not None and settings.retention_interval_seconds > 0:
            runtime.spawn(retention_job.every(runtime.db, settings.retention_interval_seconds), "retention")
        log.info("started", extra={"port": settings.http_port, "environment": settings.environment})
        try:
            yield
        finally:
            # Graceful: stop taking messages, let in-flight handlers finish (their offsets commit after the
            # effect; anything cut short is redelivered), then close the store.
            for task in runtime.background:
                task.cancel()
            await asyncio.gather(*runtime.background, return_exceptions=True)
            if runtime.broker is not None:
                await runtime.broker.stop()
            if runtime.keys is not None:
                await runtime.keys.stop()
            for close in runtime.on_shutdown:
                await close()
            if runtime.client is not None:
                await runtime.client.close()
            log.info("stopped")

    app = FastAPI(title=title, description=description, version="1.0.0", lifespan=lifespan)
    app.state.runtime = runtime
    install_problem_handlers(app)

    for middleware, options in fast_paths:  # inside the observer: observed like every route
        app.add_middleware(middleware, **options)
    app.add_middleware(ObserveRequests, hot=frozenset(hot_routes))

    @app.get("/health", tags=["operations"], summary="Liveness: the process answers")
    async def health() -> dict[str, str]:
        return {"status": "ok", "service": settings.service_name}

    @app.get("/retention", tags=["operations"], summary="What this service keeps, for how long; the last run")
    async def retention_rules() -> dict[str, Any]:
        return retention_job.describe() if retention_job else {"rules": []}

    @app.post("/retention/run", tags=["operations"], summary="Run the retention job now (operators)")
    async def retention_run() -> dict[str, Any]:
        if retention_job is None:
            return {"deleted": {}}
        return {"deleted": await retention_job.run(runtime.db)}

    @app.get("/ready", tags=["operations"], summary="Readiness: the store and Kafka answer")
    async def ready() -> JSONResponse:
        checks: dict[str, bool] = {}
        if uses_store:
            checks["store"] = runtime.client is not None and await ping(runtime.db)
        if runtime.broker is not None:
            try:
                checks["kafka"] = await runtime.broker.ping(timeout=2.0)
            except Exception:
                checks["kafka"] = False
        ok = all(checks.values())
        body: dict[str, Any] = {"status": "ready" if ok else "unavailable", "checks": checks}
        if not ok:
            body.update({"type": "about:blank", "title": "Service Unavailable", "status": 503})
        return JSONResponse(body, status_code=200 if ok else 503, media_type=None if ok else PROBLEM_JSON)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics")
    async def metrics() -> Response:
        payload, content_type = render()
        return Response(payload, media_type=content_type)

    if runtime.broker is not None:
        broker = runtime.broker

        @app.get("/asyncapi.json", tags=["operations"], summary="AsyncAPI 3.0 document of this service's topics")
        async def asyncapi() -> dict[str, Any]:
            return asyncapi_document(broker, title, description)

    for router in routers:
        app.include_router(router)
    return app


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    import uvicorn

    configure_logging(settings.service_name, settings.log_level)
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=25,
    )
    server = uvicorn.Server(config)
    if not settings.http_reuse_port:
        server.run()
        return
    import socket

    sock = socket.socket(socket.AF_INET6 if ":" in settings.http_host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((settings.http_host, settings.http_port))
    sock.set_inheritable(True)
    server.run(sockets=[sock])


def privacy_handlers(
    runtime: ServiceRuntime,
    erase: Callable[[str], Awaitable[dict[str, int]]],
    export: Callable[[str], Awaitable[dict[str, Any]]],
    subjects_of: Callable[[str], Awaitable[list[str]]] | None = None,
) -> dict[str, Handler]:
    """Every service answers privacy requests the same way: carry it out on its own data, then say so on the
    privacy topic (the answer's id derives from the request and the service, so a redelivery answers once).
    On erasure it also destroys the data keys of the person and of the other subjects `subjects_of` names (asked
    before its own data goes), so what Kafka still holds about them is unreadable (crypto-shredding).
    Returns the handlers for the service's one consumer of the privacy topic (`consume`)."""
    import uuid as _uuid

    from cdp_common.contracts.privacy import PrivacyAnswered, PrivacyRequested
    from cdp_common.events import make_event, utcnow
    from cdp_common.messaging import EventPublisher
    from cdp_common.topics import PRIVACY_REQUESTS

    assert runtime.broker is not None
    publisher = EventPublisher(runtime.broker)
    # (PRIVACY_REQUESTS is where the answer goes)
    service = runtime.settings.service_name

    async def on_requested(event: Any, p: Any) -> None:
        assert isinstance(p, PrivacyRequested)
        erased: dict[str, int] = {}
        if p.kind == "erasure":
            subjects = [p.person_id, *(await subjects_of(p.person_id) if subjects_of else [])]
            erased = await erase(p.person_id)
            if runtime.keys is not None:
                erased["subject_keys"] = await runtime.keys.shred(subjects)
        data = await export(p.person_id) if p.kind == "export" else {}
        await publisher.publish(
            PRIVACY_REQUESTS.name,
            make_event(
                source=f"cdp/{service}",
                event_type="privacy.answered",
                subject=p.person_id,
                event_id=_uuid.uuid5(_uuid.NAMESPACE_URL, f"{p.request_id}/{service}").hex,
                data=PrivacyAnswered(
                    request_id=p.request_id,
                    kind=p.kind,
                    person_id=p.person_id,
                    service=service,
                    answered_at=utcnow(),
                    erased=erased,
                    data=data,
                ),
            ),
            personal=p.kind == "export",  # an erasure's answer only counts what went
        )

    return {"privacy.requested": on_requested}


def answer_privacy(
    runtime: ServiceRuntime,
    erase: Callable[[str], Awaitable[dict[str, int]]],
    export: Callable[[str], Awaitable[dict[str, Any]]],
    subjects_of: Callable[[str], Awaitable[list[str]]] | None = None,
) -> None:
    """The privacy topic's one consumer for services that only answer (the consent service also coordinates)."""
    from cdp_common.topics import PRIVACY_REQUESTS

    consume(
        runtime,
        PRIVACY_REQUESTS,
        privacy_handlers(runtime, erase, export, subjects_of),
        title=f"{runtime.settings.service_name} <- privacy requests",
        description="Erase or export this service's data about a person, then answer.",
    )
