"""Privacy requests on `cdp.privacy.requests.v1` (key: person id): the consent service opens a request, every
service carries it out on its own data and answers; the request stays open until every service answered."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SERVICES_THAT_ANSWER: tuple[str, ...] = ("contacts", "identity", "consent", "analytics")


class PrivacyRequested(BaseModel):
    model_config = ConfigDict(extra="forbid")
    request_id: str
    kind: Literal["erasure", "export"]
    person_id: str
    requested_at: datetime
    by: str


class PrivacyAnswered(BaseModel):
    """A service carried out the request. For an export, `data` is everything it holds about the person; for an
    erasure, `erased` counts what it deleted."""

    model_config = ConfigDict(extra="forbid")
    request_id: str
    kind: Literal["erasure", "export"]
    person_id: str
    service: str
    answered_at: datetime
    erased: dict[str, int] = Field(default_factory=dict)
    data: dict[str, Any] = Field(default_factory=dict)


EVENT_TYPES: dict[str, type[BaseModel]] = {
    "privacy.requested": PrivacyRequested,
    "privacy.answered": PrivacyAnswered,
}
