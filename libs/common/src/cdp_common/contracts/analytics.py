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


class ReorderDue(BaseModel):
    """A customer will soon run out of a consumable product they bought: time to remind them, before that day."""

    model_config = ConfigDict(extra="forbid")
    contact_id: str
    sku: str
    product_name: str | None = None
    last_purchase_at: datetime
    quantity: int = Field(ge=1, description="Units bought in that purchase.")
    days_per_unit: float = Field(gt=0, description="How long one unit lasts for this customer.")
    basis: Literal["own_rhythm", "catalogue"] = Field(
        description="`own_rhythm`: learnt from this customer's earlier purchases of the product; `catalogue`: the "
        "product's usual days per unit."
    )
    run_out_at: datetime
    detected_at: datetime


class SpendRecorded(BaseModel):
    """Marketing or sales spend for a campaign and channel over a period (published on the interactions topic,
    key: campaign id)."""

    model_config = ConfigDict(extra="forbid")
    campaign_id: str = Field(min_length=1, max_length=128)
    channel: str = Field(max_length=64, examples=["facebook-ads", "zalo-oa", "sms"])
    kind: Literal["marketing", "sales"] = "marketing"
    amount: float = Field(ge=0)
    currency: str = Field("VND", pattern=r"^[A-Z]{3}$")
    occurred_at: datetime = Field(description="When the spend happened (the period it counts in).")


EVENT_TYPES: dict[str, type[BaseModel]] = {
    "marketing.spend_recorded": SpendRecorded,
    "analytics.scores_updated": ScoresUpdated,
    "segment.entered": SegmentMembership,
    "segment.exited": SegmentMembership,
    "analytics.dormancy_detected": DormancyDetected,
    "analytics.reorder_due": ReorderDue,
}
