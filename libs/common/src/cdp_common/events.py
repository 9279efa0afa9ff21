"""The one envelope every event travels in: CloudEvents 1.0 attributes plus a schema version.

Wire format (Kafka record value, JSON, UTF-8), structured mode of the CloudEvents Kafka binding:
    {"specversion": "1.0", "id": "...", "source": "cdp/contacts", "type": "contact.created",
     "subject": "<contact id>", "time": "2026-11-22T10:00:00Z", "datacontenttype": "application/json",
     "schemaversion": 1, "traceid": "...", "data": {...}}
The Kafka record key is the `subject` (the contact or person id), so one person's events stay in order.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_EVENT_BYTES = 1_000_000


def utcnow() -> datetime:
    """Now, aware UTC, at millisecond precision: what the store keeps, so a value reads back exactly as written."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def new_id() -> str:
    return uuid.uuid4().hex


class EventEnvelope(BaseModel):
    """CloudEvents 1.0 envelope. `data` is the payload of `type` at `schemaversion` (see `EventTypeRegistry`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    specversion: Literal["1.0"] = Field("1.0", description="CloudEvents spec version.")
    id: str = Field(min_length=1, max_length=128, description="Unique per event, set by the producer; the dedup key.")
    source: str = Field(min_length=1, max_length=256, description="Who produced it, e.g. `cdp/contacts`.")
    type: str = Field(min_length=1, max_length=128, description="Event type, e.g. `contact.created`.")
    subject: str = Field(min_length=1, max_length=128, description="Contact/person id; also the Kafka key.")
    time: datetime = Field(description="When it happened (RFC 3339 with offset; stored as UTC).")
    datacontenttype: Literal["application/json"] = "application/json"
    schemaversion: int = Field(1, ge=1, description="Major version of the `data` schema for this `type`.")
    traceid: str | None = Field(None, max_length=64, description="Correlates logs across services.")
    datakeyid: str | None = Field(
        None,
        max_length=64,
        description="Set when `data` is encrypted with the subject's data key of this id (crypto-shredding: "
        "`{alg, ciphertext}`); absent when `data` is plain JSON.",
    )
    data: dict[str, Any] = Field(description="The payload; its schema is fixed by `type` and `schemaversion`.")

    @field_validator("time")
    @classmethod
    def _aware_utc(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("time must carry a timezone (RFC 3339 with offset or Z)")
        return v.astimezone(UTC)

    def key(self) -> bytes:
        return self.subject.encode()


class UnknownEventType(Exception):
    def __init__(self, event_type: str, version: int) -> None:
        super().__init__(f"unknown event type {event_type!r} at schema version {version}")
        self.event_type = event_type
        self.version = version


class EventTypeRegistry:
    """Maps (type, schemaversion) to its payload model, so consumers can validate and the docs can list them."""

    def __init__(self) -> None:
        self._models: dict[tuple[str, int], type[BaseModel]] = {}

    def register(self, event_type: str, model: type[BaseModel], version: int = 1) -> None:
        self._models[(event_type, version)] = model

    def model_for(self, event_type: str, version: int) -> type[BaseModel] | None:
        return self._models.get((event_type, version))

    def parse(self, envelope: EventEnvelope) -> BaseModel:
        """The typed payload; raises `UnknownEventType` or pydantic's `ValidationError`."""
        model = self.model_for(envelope.type, envelope.schemaversion)
        if model is None:
            raise UnknownEventType(envelope.type, envelope.schemaversion)
        return model.model_validate(envelope.data)

    def items(self) -> list[tuple[tuple[str, int], type[BaseModel]]]:
        return sorted(self._models.items(), key=lambda kv: kv[0])


def make_event(
    *,
    source: str,
    event_type: str,
    subject: str,
    data: BaseModel,
    event_id: str | None = None,
    time: datetime | None = None,
    traceid: str | None = None,
    schemaversion: int = 1,
) -> EventEnvelope:
    return EventEnvelope(
        id=event_id or new_id(),
        source=source,
        type=event_type,
        subject=subject,
        time=time or utcnow(),
        schemaversion=schemaversion,
        traceid=traceid,
        data=data.model_dump(mode="json"),
    )
