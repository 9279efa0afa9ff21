"""Request and response bodies of the contacts HTTP API, as the gateway publishes it and the contacts service
serves it. Validation messages name the field at fault."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cdp_common.contracts.contacts import EmailOut, LifecycleStage, PhoneOut, PreferredChannel
from cdp_common.identifiers import normalise_email, normalise_name, normalise_phone


class EmailIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    address: str = Field(max_length=320, examples=["khai.nguyen@example.vn"])
    type: Literal["personal", "work", "other"] = "personal"
    verified: bool = False
    primary: bool = False

    @field_validator("address")
    @classmethod
    def _valid(cls, v: str) -> str:
        return normalise_email(v)


class PhoneIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: str = Field(max_length=40, examples=["0912 345 678", "+84 912 345 678"])
    type: Literal["mobile", "home", "work", "other"] = "mobile"
    verified: bool = False
    primary: bool = False

    @field_validator("number")
    @classmethod
    def _valid(cls, v: str) -> str:
        return normalise_phone(v)


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    full_name: str = Field(min_length=1, max_length=200, examples=["Nguyễn Thị Minh Khai"])
    emails: list[EmailIn] = Field(default_factory=list, max_length=20)
    phones: list[PhoneIn] = Field(default_factory=list, max_length=20)
    birth_date: date | None = None
    preferred_channel: PreferredChannel | None = None
    lifecycle_stage: LifecycleStage | None = None
    source: str = Field("staff", pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$", description="Channel it came from.")

    @field_validator("full_name")
    @classmethod
    def _name(cls, v: str) -> str:
        return normalise_name(v)

    @field_validator("birth_date")
    @classmethod
    def _plausible_birth_date(cls, v: date | None) -> date | None:
        if v is not None and not (date(1900, 1, 1) <= v <= date.today()):
            raise ValueError("birth date must be between 1900-01-01 and today")
        return v


class ContactOut(BaseModel):
    id: str
    full_name: str
    emails: list[EmailOut]
    phones: list[PhoneOut]
    birth_date: date | None
    preferred_channel: PreferredChannel | None
    lifecycle_stage: LifecycleStage | None
    source: str
    created_at: datetime
    updated_at: datetime
    version: int
