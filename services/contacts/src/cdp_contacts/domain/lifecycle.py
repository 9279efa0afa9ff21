"""Lifecycle stages: which interaction advances a contact to which stage (forward only when automatic)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cdp_common.contracts.contacts import LIFECYCLE_ORDER


def rank(stage: str | None) -> int:
    """Position in the funnel; `other` and none rank below everything so any real stage is forward of them."""
    if stage is None or stage == "other":
        return -1
    return LIFECYCLE_ORDER.index(stage)


@dataclass(frozen=True)
class LifecycleRules:
    evangelist_after_purchases: int = 5

    def stage_for(self, event_type: str, payload: Any, purchases: int) -> str | None:
        """The stage an event shows the contact has reached, or None."""
        if event_type == "consent.newsletter_granted":
            return "subscriber"
        if event_type == "lead.form_submitted":
            return "lead"
        if event_type == "lead.qualified":
            return "marketing_qualified_lead" if payload.level == "mql" else "sales_qualified_lead"
        if event_type == "deal.opened":
            return "opportunity"
        if event_type == "referral.made":
            return "evangelist"
        if event_type == "order.paid":
            return "evangelist" if purchases >= self.evangelist_after_purchases else "customer"
        return None
