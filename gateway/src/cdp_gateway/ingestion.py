"""`POST /v1/events`: channel integrations publish interactions and source records. Each event is validated against
the published schema of its type and the key's scopes; good ones are published (acks=all) and answered 202 with
their ids; a bad one is reported by its index while the others land. The envelope id derives from the caller and
its idempotency key, so a retried batch produces the same ids and consumers drop the copies."""

from __future__ import annotations

import functools
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from cdp_common.contracts import REGISTRY, interactions
from cdp_common.events import EventEnvelope, utcnow
from cdp_common.messaging import EventPublisher
from cdp_common.problems import Problem, validation_errors
from cdp_common.topics import IDENTITY_RECORDS, INTERACTION_EVENTS
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cdp_gateway.auth import Allow, Principal

router = APIRouter(prefix="/v1", tags=["ingestion"])
_NS = uuid.UUID("2d8a4c61-52a4-4f0f-8e53-7b9f3f0c8a21")
TOPIC_OF: dict[str, str] = {t: INTERACTION_EVENTS.name for t in interactions.EVENT_TYPES}
TOPIC_OF["identity.record_observed"] = IDENTITY_RECORDS.name
TOPIC_OF["marketing.spend_recorded"] = INTERACTION_EVENTS.name


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    idempotency_key: str = Field(min_length=1, max_length=128, description="Same key, same event: retry freely.")
    type: str = Field(examples=["order.paid"])
    subject: str = Field(min_length=1, max_length=128, description="Contact id (record key for source records).")
    time: datetime | None = Field(None, description="When it happened; default now.")
    schemaversion: int = 1
    data: dict[str, Any]


class EventsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[dict[str, Any]] = Field(min_length=1, max_length=1000)


class Accepted(BaseModel):
    accepted: list[dict[str, Any]] = Field(description="index and id of every event Kafka acknowledged")
    rejected: list[dict[str, Any]] = Field(description="index, field and message of every refused event")


def _check(i: int, raw: dict[str, Any], principal: Principal) -> EventEnvelope | list[dict[str, Any]]:
    """The envelope to publish, or the reasons event `i` is refused (each naming its field)."""
    try:
        e = EventIn.model_validate(raw)
    except ValidationError as err:
        return [{"index": i, "field": x["field"], "message": x["message"]} for x in validation_errors(err.errors())]
    if e.type not in TOPIC_OF:
        return [{"index": i, "field": "type", "message": f"{e.type} is not an event type integrations publish"}]
    if principal.kind == "api_key" and not _allowed(principal.scopes, e.type):
        return [{"index": i, "field": "type", "message": f"this key may not publish {e.type}"}]
    model = REGISTRY.model_for(e.type, e.schemaversion)
    if model is None:
        return [{"index": i, "field": "schemaversion", "message": f"{e.type} has no schema version {e.schemaversion}"}]
    try:
        payload = model.model_validate(e.data)
    except ValidationError as err:
        return [
            {"index": i, "field": f"data.{x['field']}", "message": x["message"]}
            for x in validation_errors(err.errors())
        ]
    if getattr(payload, "contact_id", e.subject) != e.subject:
        return [{"index": i, "field": "subject", "message": "must equal data.contact_id"}]
    # every field is validated above (the type is known, the subject 1-128 characters, the time made aware):
    # constructing skips a second validation of what is already valid
    return EventEnvelope.model_construct(
        id=uuid.uuid5(_NS, f"{principal.subject}:{e.idempotency_key}").hex,
        source=f"integration/{principal.subject}",
        type=e.type,
        subject=e.subject,
        time=(e.time or utcnow()).astimezone(UTC),
        schemaversion=e.schemaversion,
        data=payload.model_dump(mode="json"),
    )


@functools.lru_cache(maxsize=4096)
def _allowed(scopes: tuple[str, ...], event_type: str) -> bool:
    return any(s == event_type or (s.endswith(".*") and event_type.startswith(s[:-1])) for s in scopes)


@router.post("/events", status_code=202, response_model=Accepted, summary="Publish events (one, or up to 1,000)")
async def publish_events(
    body: EventsIn, request: Request, principal: Annotated[Principal, Depends(Allow("integration", "admin"))]
) -> Accepted:
    publisher: EventPublisher = request.app.state.publisher
    rejected: list[dict[str, Any]] = []
    ready: list[tuple[int, str, EventEnvelope]] = []
    for i, raw in enumerate(body.events):
        problem = _check(i, raw, principal)
        if isinstance(problem, list):
            rejected += problem
        else:
            ready.append((i, TOPIC_OF[problem.type], problem))
    if ready:
        try:
            await publisher.publish_many([(topic, env) for _, topic, env in ready])
        except Exception:
            raise Problem(
                503,
                "Service Unavailable",
                "Kafka did not acknowledge; retry with the same keys",
                headers={"Retry-After": "2"},
            ) from None
    return Accepted(accepted=[{"index": i, "id": env.id} for i, _, env in ready], rejected=rejected)
