"""Events published by the analytics service on `cdp.analytics.events.v1` (key: contact id)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ScoresUpdated(BaseModel):
    """The person's scores were recomputed."""

    model_config = ConfigDict(extra="forbid")
    contact_id: str
    churn_probability: float | None = Field(None, ge=0, le=1)
    lead_score: float | None = Field(None, ge=0, le=100)
    rfm: str | None = Field(None, description="R, F, M quintiles, e.g. `545`.")
    predicted_clv: float | None = None
    journey_stage: Literal["awareness", "consideration", "purchase", "retention", "advocacy"] | None = None
    computed_at: datetime


class SegmentMembership(BaseModel):
    model_config = ConfigDict(extra="forbid")
    contact_id: str
    segment_id: str
    segment_name: str
    at: datetime


class DormancyDetected(BaseModel):
    """A customer is silent for longer than is usual for their own buying rhythm."""

    model_config = ConfigDict(extra="forbid")
    contact_id: str
    last_activity_at: datetime
    expected_gap_days: float
    silent_days: float
    detected_at: datetime


EVENT_TYPES: dict[str, type[BaseModel]] = {
    "analytics.scores_updated": ScoresUpdated,
    "segment.entered": SegmentMembership,
    "segment.exited": SegmentMembership,
    "analytics.dormancy_detected": DormancyDetected,
}
