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
    status: Literal["granted", "denied", "withdrawn", "expired", "none"]
    previous_status: str | None = None
    decided_by_statement_id: str
    reason: str = Field(description="How the policy decided, e.g. `latest event time wins`.")
    changed_at: datetime


EVENT_TYPES: dict[str, type[BaseModel]] = {"consent.changed": ConsentChanged}


LegalBasis = Literal["consent", "contract", "legitimate_interest", "legal_obligation"]


class Proof(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text_version: str | None = Field(None, max_length=200, description="Form or wording version shown.")
    ip: str | None = Field(None, max_length=64)
    user_agent: str | None = Field(None, max_length=500)
    document_ref: str | None = Field(None, max_length=500, description="Signed paper, call recording, ...")


class StatementIn(BaseModel):
    """One thing a person said (or a basis we rely on) about one channel and purpose. Kept forever, never edited."""

    model_config = ConfigDict(extra="forbid")
    person_id: str = Field(min_length=1, max_length=128)
    channel: Channel
    purpose: Purpose
    status: Status
    source: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$", examples=["shop-till", "contest-2026-03"])
    campaign: str | None = Field(None, max_length=200)
    event_time: datetime = Field(description="When the person said it (this decides conflicts), with offset.")
    legal_basis: LegalBasis = "consent"
    proof: Proof = Field(default_factory=Proof)
    expires_at: datetime | None = None
    idempotency_key: str | None = Field(None, max_length=128, description="Same key, same statement.")
    double_opt_in: bool = Field(
        False, description="An email grant that counts only once the person confirms it with the token sent to them."
    )


class StatementRecorded(BaseModel):
    model_config = ConfigDict(extra="forbid")
    person_id: str
    statement_id: str
    channel: Channel
    purpose: Purpose
    status: Status
    source: str
    event_time: datetime


EVENT_TYPES["consent.statement_recorded"] = StatementRecorded


class SubjectChanged(BaseModel):
    """Something other than a new statement changed what a person's consent checks answer: a double opt-in
    confirmed, a suppression set or lifted, ledgers merged or separated, the ledger erased. Ids only, never
    encrypted. Every consent replica forgets what it remembered of the person; others may follow it too."""

    model_config = ConfigDict(extra="forbid")
    person_id: str
    change: Literal["confirmed", "suppressed", "suppression_lifted", "merged", "separated", "erased"]
    related_id: str | None = Field(None, description="The other person of a merge or separation.")
    at: datetime


EVENT_TYPES["consent.subject_changed"] = SubjectChanged
