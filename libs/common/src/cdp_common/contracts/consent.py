"""Events published by the consent service on `cdp.consent.events.v1` (key: person id)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Channel = Literal["email", "sms", "phone", "push", "post", "zalo", "messenger"]
Purpose = Literal["newsletter", "marketing", "transactional", "profiling", "partner_sharing"]
Status = Literal["granted", "denied", "withdrawn"]


class ConsentChanged(BaseModel):
    """The effective consent of a person for a channel and purpose changed (and which statement decided it)."""

    model_config = ConfigDict(extra="forbid")
    person_id: str
    channel: Channel
    purpose: Purpose
    status: Status
    previous_status: Status | None = None
    decided_by_statement_id: str
    reason: str = Field(description="How the policy decided, e.g. `latest event time wins`.")
    changed_at: datetime


EVENT_TYPES: dict[str, type[BaseModel]] = {"consent.changed": ConsentChanged}
