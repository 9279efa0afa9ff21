"""Events channel integrations publish on `cdp.interactions.events.v1` (key: contact id): what customers did.

Every payload carries `contact_id` (equal to the envelope subject) and `occurred_at`. The contacts service turns
them into the timeline and the quantitative figures; analytics into KPIs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Interaction(BaseModel):
    model_config = ConfigDict(extra="forbid")
    contact_id: str = Field(min_length=1, max_length=128)
    occurred_at: datetime
    channel: str | None = Field(None, max_length=64, description="shop-till, ecommerce, zalo, hotline, ...")


class Money(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: float = Field(ge=0)
    currency: str = Field("VND", pattern=r"^[A-Z]{3}$")


class OrderLine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku: str
    name: str | None = None
    quantity: int = Field(1, ge=1)
    unit_price: float = Field(ge=0)


class OrderPlaced(Interaction):
    """A customer placed an order (not yet paid)."""

    order_id: str
    total: Money
    lines: list[OrderLine] = Field(default_factory=list)
    campaign_id: str | None = None


class OrderPaid(Interaction):
    """An order was paid: a purchase. Makes the contact a customer. `lines` (optional) say what was bought: the
    analytics service predicts from them when consumable products run out."""

    order_id: str
    total: Money
    lines: list[OrderLine] = Field(default_factory=list)
    campaign_id: str | None = None


class OrderRefunded(Interaction):
    order_id: str
    refund: Money
    reason: str | None = None


class TicketOpened(Interaction):
    """A support request."""

    ticket_id: str
    subject: str | None = Field(None, max_length=300)


class TicketClosed(Interaction):
    ticket_id: str
    resolved: bool = True


class WebVisited(Interaction):
    session_id: str
    url: str | None = Field(None, max_length=2000)


class SocialInteracted(Interaction):
    network: str
    kind: Literal["like", "comment", "share", "message", "follow", "mention"]


class EmailEvent(Interaction):
    message_id: str
    campaign_id: str | None = None
    url: str | None = Field(None, max_length=2000, description="The link clicked, for email.clicked.")


class CallLogged(Interaction):
    call_id: str
    direction: Literal["inbound", "outbound"]
    outcome: Literal["connected", "no_answer", "busy", "voicemail", "wrong_number"]
    duration_seconds: int = Field(0, ge=0)
    by: str | None = None
    note: str | None = Field(None, max_length=4000)


class NoteAdded(Interaction):
    note_id: str
    text: str = Field(max_length=10_000)
    by: str


class SurveyAnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question_id: str
    question: str
    answer: str = ""
    score: int | None = Field(None, ge=0, le=10)


class SurveyAnswered(Interaction):
    """A survey response; `kind` tells analytics whether scores are NPS (0-10) or CSAT (1-5) answers."""

    response_id: str
    survey_id: str
    kind: Literal["nps", "csat", "other"] = "other"
    answers: list[SurveyAnswerIn]


class LeadFormSubmitted(Interaction):
    form_id: str
    campaign_id: str | None = None


class LeadQualified(Interaction):
    level: Literal["mql", "sql"]
    by: str | None = None


class DealOpened(Interaction):
    deal_id: str
    value: Money


class DealWon(Interaction):
    deal_id: str
    value: Money


class DealLost(Interaction):
    deal_id: str
    reason: str | None = None
    competitor: str | None = None


class ReferralMade(Interaction):
    """`contact_id` referred someone (an evangelist signal)."""

    referral_id: str
    referred_contact_id: str | None = None


EVENT_TYPES: dict[str, type[BaseModel]] = {
    "order.placed": OrderPlaced,
    "order.paid": OrderPaid,
    "order.refunded": OrderRefunded,
    "ticket.opened": TicketOpened,
    "ticket.closed": TicketClosed,
    "web.visited": WebVisited,
    "social.interacted": SocialInteracted,
    "email.sent": EmailEvent,
    "email.opened": EmailEvent,
    "email.clicked": EmailEvent,
    "email.bounced": EmailEvent,
    "call.logged": CallLogged,
    "note.added": NoteAdded,
    "survey.answered": SurveyAnswered,
    "lead.form_submitted": LeadFormSubmitted,
    "lead.qualified": LeadQualified,
    "deal.opened": DealOpened,
    "deal.won": DealWon,
    "deal.lost": DealLost,
    "referral.made": ReferralMade,
}
