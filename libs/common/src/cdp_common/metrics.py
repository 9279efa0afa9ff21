"""Prometheus metrics every service exposes at /metrics."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

EVENTS_CONSUMED = Counter(
    "cdp_events_consumed_total",
    "Events handled by a consumer, by outcome.",
    ["group", "topic", "type", "outcome"],
)
EVENTS_PUBLISHED = Counter("cdp_events_published_total", "Events published, by topic and type.", ["topic", "type"])
DEAD_LETTERS = Counter(
    "cdp_dead_letters_total", "Messages sent to a dead-letter topic, by reason.", ["group", "reason"]
)
HANDLER_SECONDS = Histogram("cdp_event_handler_seconds", "Time to apply one event.", ["group", "type"])
HTTP_REQUESTS = Counter("cdp_http_requests_total", "HTTP requests, by route and status.", ["method", "route", "status"])
HTTP_SECONDS = Histogram("cdp_http_request_seconds", "HTTP request latency.", ["method", "route"])


def render() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST


RETENTION_DELETED = Counter(
    "cdp_retention_deleted_total", "Documents deleted by the retention job, by data kind.", ["kind"]
)

GC_PAUSE_SECONDS = Histogram(
    "cdp_gc_pause_seconds",
    "Python garbage collector pauses, by generation (every request waits while one runs).",
    ["generation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)


def observe_gc_pauses() -> None:
    """Record every collection's pause (idempotent)."""
    import gc
    import time

    if any(getattr(cb, "_cdp", False) for cb in gc.callbacks):
        return
    started: list[float] = [0.0]
    children = [GC_PAUSE_SECONDS.labels(str(g)) for g in range(3)]

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            children[info["generation"]].observe(time.perf_counter() - started[0])

    callback._cdp = True  # type: ignore[attr-defined]
    gc.callbacks.append(callback)
