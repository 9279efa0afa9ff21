"""Request and response bodies of the contacts HTTP API, as the gateway publishes it and the contacts service
serves it. Everything is normalised on the way in (NFC, trimmed, E.164 phones, canonical emails); validation
messages name the field at fault."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, HttpUrl, field_validator

from cdp_common.contracts.contacts import (
    EmailOut,
    LeadStatus,
    LifecycleStage,
    PhoneOut,
    PreferredChannel,
)
from cdp_common.identifiers import normalise_email, normalise_name, normalise_phone, normalise_text

Text = Annotated[str, AfterValidator(normalise_text)]
SourceName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$", examples=["shop-till", "ecommerce"])]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EmailIn(Strict):
    address: str = Field(max_length=320, examples=["khai.nguyen@example.vn"])
    type: Literal["personal", "work", "other"] = "personal"
    verified: bool = False
    primary: bool = False

    @field_validator("address")
    @classmethod
    def _valid(cls, v: str) -> str:
        return normalise_email(v)


class PhoneIn(Strict):
    number: str = Field(max_length=40, examples=["0912 345 678", "+84 912 345 678"])
    type: Literal["mobile", "home", "work", "other"] = "mobile"
    verified: bool = False
    primary: bool = False

    @field_validator("number")
    @classmethod
    def _valid(cls, v: str) -> str:
        return normalise_phone(v)


class Address(Strict):
    label: Text | None = Field(None, max_length=60, examples=["home", "office"])
    line1: Text = Field(min_length=1, max_length=200, examples=["12 Lý Thường Kiệt"])
    line2: Text | None = Field(None, max_length=200)
    ward: Text | None = Field(None, max_length=100, examples=["Phường Hàng Bài"])
    district: Text | None = Field(None, max_length=100, examples=["Quận Hoàn Kiếm"])
    city: Text = Field(min_length=1, max_length=100, examples=["Hà Nội"])
    province: Text | None = Field(None, max_length=100)
    postal_code: Text | None = Field(None, max_length=20)
    country: str = Field("VN", pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2.")
    shipping: bool = Field(False, description="The address to ship to; at most one is.")


class SocialProfile(Strict):
    network: Literal["facebook", "zalo", "instagram", "tiktok", "linkedin", "x", "youtube", "other"]
    url: HttpUrl | None = None
    handle: Text | None = Field(None, max_length=100)


class Occupation(Strict):
    company: Text | None = Field(None, max_length=200)
    position: Text | None = Field(None, max_length=200)


class Family(Strict):
    marital_status: Literal["single", "married", "partnered", "divorced", "widowed"] | None = None
    children: int | None = Field(None, ge=0, le=30)


EducationLevel = Literal[
    "primary", "secondary", "high_school", "vocational", "college", "bachelor", "master", "doctorate"
]
IncomeBand = Literal["under_5m", "5m_10m", "10m_20m", "20m_50m", "over_50m"]  # VND per month


class Descriptive(Strict):
    education_level: EducationLevel | None = None
    occupation: Occupation | None = None
    income_band: IncomeBand | None = Field(None, description="Monthly income in VND.")
    family: Family | None = None
    lifestyle_notes: Text | None = Field(None, max_length=2000)


class FirstTransaction(Strict):
    at: datetime
    amount: float = Field(ge=0)
    currency: str = Field("VND", pattern=r"^[A-Z]{3}$")
    size: Text | None = Field(None, max_length=60, description="Basket size, e.g. `3 items`.")
    items: list[Text] = Field(default_factory=list, max_length=100)
    special_requests: Text | None = Field(None, max_length=2000)
    complaints: Text | None = Field(None, max_length=2000)
    contact_channel: Text | None = Field(None, max_length=60, description="How they contacted us.")


class RelationshipEnd(Strict):
    at: datetime
    reason: Text = Field(min_length=1, max_length=2000)
    competitor: Text | None = Field(None, max_length=200)


class Relationship(Strict):
    heard_about_us: Text | None = Field(None, max_length=500)
    first_impression: Text | None = Field(None, max_length=2000)
    alternatives_considered: list[Text] = Field(default_factory=list, max_length=20)
    competitor_likes: Text | None = Field(None, max_length=2000)
    first_transaction: FirstTransaction | None = None
    ended: RelationshipEnd | None = None


class SurveyAnswer(Strict):
    survey_id: str = Field(min_length=1, max_length=64)
    question_id: str = Field(min_length=1, max_length=64)
    question: Text = Field(min_length=1, max_length=500, examples=["Why did you choose us?"])
    answer: Text = Field(max_length=4000)
    score: int | None = Field(None, ge=0, le=10)
    answered_at: datetime


class ContactIn(Strict):
    """A new contact. Only `full_name` is required; everything else can come later from any channel."""

    full_name: str = Field(min_length=1, max_length=200, examples=["Nguyễn Thị Minh Khai"])
    birth_date: date | None = None
    gender: Literal["female", "male", "other"] | None = None
    emails: list[EmailIn] = Field(default_factory=list, max_length=20)
    phones: list[PhoneIn] = Field(default_factory=list, max_length=20)
    addresses: list[Address] = Field(default_factory=list, max_length=20)
    preferred_channel: PreferredChannel | None = None
    social_profiles: list[SocialProfile] = Field(default_factory=list, max_length=20)
    interests: list[Text] = Field(default_factory=list, max_length=50)
    descriptive: Descriptive | None = None
    relationship: Relationship | None = None
    custom_fields: dict[str, Any] = Field(default_factory=dict, description="Values of admin-defined fields by key.")
    tags: list[Text] = Field(default_factory=list, max_length=50)
    owner: str | None = Field(None, max_length=100, description="Staff member responsible.")
    lifecycle_stage: LifecycleStage | None = None
    lead_status: LeadStatus | None = None
    source: SourceName = "staff"

    @field_validator("full_name")
    @classmethod
    def _name(cls, v: str) -> str:
        return normalise_name(v)

    @field_validator("birth_date")
    @classmethod
    def _plausible_birth_date(cls, v: date | None) -> date | None:
        return plausible_birth_date(v)

    @field_validator("addresses")
    @classmethod
    def _one_shipping(cls, v: list[Address]) -> list[Address]:
        if sum(a.shipping for a in v) > 1:
            raise ValueError("at most one address can be the shipping address")
        return v


class ContactPatch(Strict):
    """A staff edit: only the fields given change; `null` clears a scalar. Lists given replace that list."""

    full_name: str | None = Field(None, min_length=1, max_length=200)
    birth_date: date | None = None
    gender: Literal["female", "male", "other"] | None = None
    emails: list[EmailIn] | None = Field(None, max_length=20)
    phones: list[PhoneIn] | None = Field(None, max_length=20)
    addresses: list[Address] | None = Field(None, max_length=20)
    preferred_channel: PreferredChannel | None = None
    social_profiles: list[SocialProfile] | None = Field(None, max_length=20)
    interests: list[Text] | None = Field(None, max_length=50)
    descriptive: Descriptive | None = None
    relationship: Relationship | None = None
    custom_fields: dict[str, Any] | None = None
    tags: list[Text] | None = Field(None, max_length=50)
    owner: str | None = Field(None, max_length=100)
    source: SourceName = "staff"

    @field_validator("full_name")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        return normalise_name(v) if v is not None else None

    @field_validator("birth_date")
    @classmethod
    def _plausible_birth_date(cls, v: date | None) -> date | None:
        return plausible_birth_date(v)


def plausible_birth_date(v: date | None) -> date | None:
    if v is not None and not (date(1900, 1, 1) <= v <= date.today()):
        raise ValueError("birth date must be between 1900-01-01 and today")
    return v


class LifecycleChange(Strict):
    stage: LifecycleStage
    reason: Text = Field(min_length=3, max_length=500, description="Why staff set it by hand; kept in the history.")


class LeadStatusChange(Strict):
    status: LeadStatus
    note: Text | None = Field(None, max_length=2000, examples=["Called, no answer; try after 18:00"])


class HistoryEntry(BaseModel):
    from_: str | None = Field(None, alias="from")
    to: str
    at: datetime
    by: str = Field(description="Staff id, or `event:<type>` for an automatic change.")
    event_id: str | None = None
    reason: str | None = None
    automatic: bool = False

    model_config = ConfigDict(populate_by_name=True)


class Quantitative(BaseModel):
    """Derived from the timeline; never typed in."""

    purchases: int = 0
    total_spent: float = 0.0
    average_order_value: float | None = None
    currency: str = "VND"
    first_purchase_at: datetime | None = None
    last_purchase_at: datetime | None = None
    refunds: int = 0
    support_requests_30d: int = 0
    support_requests_90d: int = 0
    support_requests_total: int = 0
    web_visits_30d: int = 0
    web_visits_total: int = 0
    social_interactions_30d: int = 0
    social_interactions_total: int = 0
    computed_at: datetime | None = None


class FieldProvenance(BaseModel):
    source: str
    observed_at: datetime
    verified_at: datetime | None = None
    rule: str = Field(description="Which survivorship rule chose this value.")


class DataHealth(BaseModel):
    completeness: float = Field(description="Share of the key fields that have a value, 0..1.")
    freshness: float = Field(description="1 for data observed today, falling to 0 at the staleness horizon.")
    score: float
    missing: list[str]
    stale: bool


class ContactOut(BaseModel):
    id: str
    full_name: str
    birth_date: date | None = None
    gender: str | None = None
    emails: list[EmailOut] = Field(default_factory=list)
    phones: list[PhoneOut] = Field(default_factory=list)
    addresses: list[Address] = Field(default_factory=list)
    preferred_channel: PreferredChannel | None = None
    social_profiles: list[SocialProfile] = Field(default_factory=list)
    interests: list[str] = Field(default_factory=list)
    descriptive: Descriptive = Field(default_factory=Descriptive)
    relationship: Relationship = Field(default_factory=Relationship)
    quantitative: Quantitative = Field(default_factory=Quantitative)
    survey_answers: list[SurveyAnswer] = Field(default_factory=list)
    custom_fields: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    owner: str | None = None
    lifecycle_stage: LifecycleStage | None = None
    lead_status: LeadStatus | None = None
    source: str
    provenance: dict[str, FieldProvenance] = Field(default_factory=dict)
    health: DataHealth | None = None
    created_at: datetime
    updated_at: datetime
    version: int
    merged_from: list[str] = Field(default_factory=list)


class DuplicateHint(BaseModel):
    id: str
    full_name: str
    reason: str = Field(description="same email, same phone, or same name and birth date")


class CreatedOut(ContactOut):
    likely_duplicates: list[DuplicateHint] = Field(default_factory=list, description="A warning, not an error.")


class ContactPage(BaseModel):
    items: list[ContactOut]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page; absent on the last.")


class TimelineEntry(BaseModel):
    id: str = Field(description="The event id; an event is on the timeline once.")
    type: str
    at: datetime
    data: dict[str, Any]


class TimelinePage(BaseModel):
    items: list[TimelineEntry]
    next_cursor: str | None = None


class ImportRow(BaseModel):
    row: int = Field(ge=1, description="Row number in the file, for the error report.")
    data: dict[str, Any] = Field(description="A `ContactIn` object; validated row by row.")


class ImportBatch(Strict):
    rows: list[ImportRow] = Field(min_length=1, max_length=1000)
    import_id: str = Field(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="Same file, same id: re-running an import creates nothing twice.",
    )


class RowError(BaseModel):
    row: int
    field: str
    message: str


class ImportResult(BaseModel):
    created: int
    already_imported: int
    rejected: int
    errors: list[RowError]
