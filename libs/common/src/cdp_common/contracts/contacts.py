"""Events published by the contacts service on `cdp.contacts.events.v1` (key: contact id)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

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
LIFECYCLE_ORDER: tuple[str, ...] = (
    "subscriber",
    "lead",
    "marketing_qualified_lead",
    "sales_qualified_lead",
    "opportunity",
    "customer",
    "evangelist",
)
LeadStatus = Literal[
    "new", "open", "in_progress", "open_deal", "unqualified", "attempted_to_contact", "connected", "bad_timing"
]
PreferredChannel = Literal["email", "sms", "phone", "zalo", "messenger", "post", "push"]


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EmailOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    address: str = Field(description="Syntax-checked, domain lower-cased.")
    type: Literal["personal", "work", "other"] = "personal"
    verified: bool = False
    primary: bool = False


class PhoneOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: str = Field(description="E.164, e.g. +84912345678.")
    type: Literal["mobile", "home", "work", "other"] = "mobile"
    verified: bool = False
    primary: bool = False


class ContactCreated(_Event):
    """A new golden record exists. Carries the identification data it was created with."""

    contact_id: str = Field(description="Stable id of the contact; also the Kafka key.")
    full_name: str = Field(description="Full name, Unicode NFC, diacritics kept exactly.")
    emails: list[EmailOut] = Field(default_factory=list)
    phones: list[PhoneOut] = Field(default_factory=list)
    birth_date: date | None = None
    preferred_channel: PreferredChannel | None = None
    lifecycle_stage: LifecycleStage | None = None
    source: str = Field(description="Where the contact came from, e.g. `staff`, `shop-till`, `ecommerce`.")
    created_at: datetime


class ContactUpdated(_Event):
    """Golden values changed. `changes` maps each changed field path to its new value (null when cleared)."""

    contact_id: str
    changes: dict[str, Any]
    source: str
    version: int
    updated_at: datetime


class ContactLifecycleChanged(_Event):
    """The lifecycle stage moved, automatically (forward only) or by staff (any direction, with a reason)."""

    contact_id: str
    from_stage: LifecycleStage | None
    to_stage: LifecycleStage
    automatic: bool
    by: str = Field(description="Staff id, or `event:<type>` for an automatic change.")
    cause_event_id: str | None = None
    reason: str | None = None
    changed_at: datetime


class ContactLeadStatusChanged(_Event):
    contact_id: str
    from_status: LeadStatus | None
    to_status: LeadStatus
    by: str
    note: str | None = None
    changed_at: datetime


class ContactMerged(_Event):
    """`merged_id` now lives on in `contact_id` (the survivor); its profile, timeline and history joined it."""

    contact_id: str = Field(description="The surviving contact.")
    merged_id: str
    merge_id: str = Field(description="Identity's id for the merge, to undo it.")
    merged_at: datetime


class ContactSplit(_Event):
    """A merge was undone: `restored_id` exists again with exactly what was its own."""

    contact_id: str = Field(description="The contact that had absorbed `restored_id`.")
    restored_id: str
    merge_id: str
    split_at: datetime


class ContactErased(_Event):
    """Every personal value of the contact was erased (privacy request)."""

    contact_id: str
    request_id: str
    erased_at: datetime


EVENT_TYPES: dict[str, type[BaseModel]] = {
    "contact.created": ContactCreated,
    "contact.updated": ContactUpdated,
    "contact.lifecycle_changed": ContactLifecycleChanged,
    "contact.lead_status_changed": ContactLeadStatusChanged,
    "contact.merged": ContactMerged,
    "contact.split": ContactSplit,
    "contact.erased": ContactErased,
}
