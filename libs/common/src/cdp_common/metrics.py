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
