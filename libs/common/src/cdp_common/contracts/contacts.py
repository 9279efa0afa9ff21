"""Events published by the contacts service on `cdp.contacts.events.v1` (key: contact id)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

LifecycleStage = Literal[
    "subscriber",
    "lead",
    "marketing_qualified_lead",
    "sales_qualified_lead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
]
PreferredChannel = Literal["email", "sms", "phone", "zalo", "messenger", "post", "push"]


class EmailOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    address: str = Field(description="As entered (NFC), lower-cased domain.")
    type: Literal["personal", "work", "other"] = "personal"
    verified: bool = False
    primary: bool = False


class PhoneOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: str = Field(description="E.164, e.g. +84912345678.")
    type: Literal["mobile", "home", "work", "other"] = "mobile"
    verified: bool = False
    primary: bool = False


class ContactCreated(BaseModel):
    """A new golden record exists. Carries the identification data it was created with."""

    model_config = ConfigDict(extra="forbid")
    contact_id: str = Field(description="Stable id of the contact; also the Kafka key.")
    full_name: str = Field(description="Full name, Unicode NFC, diacritics kept exactly.")
    emails: list[EmailOut] = Field(default_factory=list)
    phones: list[PhoneOut] = Field(default_factory=list)
    birth_date: date | None = None
    preferred_channel: PreferredChannel | None = None
    lifecycle_stage: LifecycleStage | None = None
    source: str = Field(description="Where the contact came from, e.g. `staff`, `shop-till`, `ecommerce`.")
    created_at: datetime


EVENT_TYPES: dict[str, type[BaseModel]] = {
    "contact.created": ContactCreated,
}
