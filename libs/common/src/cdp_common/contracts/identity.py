"""Events published by the identity service on `cdp.identity.events.v1` (key: person id, which is the contact id
of the person's golden record), and source records integrations publish on `cdp.identity.source-records.v1`
(key: "<source>:<record id>")."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceAttributes(_Event):
    """What a source says about a person; every field optional. Values are normalised by the consumers."""

    full_name: str | None = Field(None, max_length=200)
    birth_date: date | None = None
    gender: Literal["female", "male", "other"] | None = None
    emails: list[str] = Field(default_factory=list, max_length=20)
    phones: list[str] = Field(default_factory=list, max_length=20, description="Any format; E.164 after matching.")
    addresses: list[dict[str, Any]] = Field(default_factory=list, max_length=20)
    preferred_channel: str | None = None


class SourceRecordObserved(_Event):
    """An integration saw a person: a shop till sale, an e-commerce account, a contest entry, a support ticket."""

    source: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$", examples=["shop-till", "ecommerce", "contest"])
    record_id: str = Field(min_length=1, max_length=128, description="The record's id in that source.")
    observed_at: datetime
    external_ids: dict[str, str] = Field(default_factory=dict, description="loyalty_card, customer_number, ...")
    social_handles: dict[str, str] = Field(default_factory=dict, description="network -> handle")
    verified_emails: list[str] = Field(default_factory=list)
    verified_phones: list[str] = Field(default_factory=list)
    attributes: SourceAttributes = Field(default_factory=SourceAttributes)


class Evidence(_Event):
    field: str
    comparison: str = Field(description="exact, accent_folded, token_set, fuzzy, disagree, missing, ...")
    weight: float


CONTACT_RECORD_PREFIX = "contacts-"
"""Source of the records identity makes of contacts created in the contacts service (by staff or an import)."""


def contact_record_source(contact_source: str) -> str:
    return f"{CONTACT_RECORD_PREFIX}{contact_source}"[:64]


class RecordLinked(_Event):
    """A source record belongs to a person (new or existing); contacts add its values as candidates."""

    person_id: str
    source: str
    record_id: str
    observed_at: datetime
    new_person: bool
    rule: str = Field(description="deterministic:<identifier>, probabilistic, manual, ...")
    rule_version: int
    score: float | None = None
    evidence: list[Evidence] = Field(default_factory=list)
    attributes: SourceAttributes


class PersonsMerged(_Event):
    """`merged_id` is now part of `survivor_id` (stable ids: the survivor keeps its id, the other redirects)."""

    merge_id: str
    survivor_id: str
    merged_id: str
    by: str = Field(description="`auto:<rule>` or the staff id")
    merged_at: datetime
    evidence: list[Evidence] = Field(default_factory=list)


class MergeUndone(_Event):
    """The merge `merge_id` was undone: `restored_id` exists again with exactly what was its own."""

    merge_id: str
    survivor_id: str
    restored_id: str
    by: str
    undone_at: datetime


class ReviewNeeded(_Event):
    review_id: str
    record_key: str
    candidate_person_ids: list[str]
    score: float
    reason: str
    evidence: list[Evidence] = Field(default_factory=list)


class ReviewResolved(_Event):
    review_id: str
    decision: Literal["accepted", "rejected"]
    person_id: str | None
    by: str
    resolved_at: datetime


EVENT_TYPES: dict[str, type[BaseModel]] = {
    "identity.record_observed": SourceRecordObserved,
    "identity.record_linked": RecordLinked,
    "identity.persons_merged": PersonsMerged,
    "identity.merge_undone": MergeUndone,
    "identity.review_needed": ReviewNeeded,
    "identity.review_resolved": ReviewResolved,
}
