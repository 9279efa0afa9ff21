"""Effective consent, derived from every statement ever made (none is overwritten) by a configurable policy.

Default policy: the statement with the latest event time wins (when the person said it, not when we heard); on a
tie a withdrawal or denial beats a grant; optional source priorities break remaining ties; an expired grant counts
as no grant. The classic case: opt-in with a purchase in January, opt-out in a contest in March, arriving from two
systems in either order: the person is opted out. Every answer names the statement that decided it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

NEGATIVE = ("withdrawn", "denied")


@dataclass(frozen=True)
class ConsentPolicy:
    version: int = 1
    source_priority: tuple[str, ...] = ()  # most trusted first; empty: all equal

    def rank(self, source: str) -> int:
        return self.source_priority.index(source) if source in self.source_priority else len(self.source_priority)


@dataclass(frozen=True)
class Effective:
    status: str  # granted, denied, withdrawn, none
    allowed: bool
    decided_by: str | None
    reason: str
    statements_considered: int = 0
    details: dict[str, Any] = field(default_factory=dict)


def effective(
    statements: list[dict[str, Any]], channel: str, purpose: str, now: datetime, policy: ConsentPolicy = ConsentPolicy()
) -> Effective:
    # a grant awaiting its double opt-in confirmation says nothing yet
    relevant = [
        s for s in statements if s["channel"] == channel and s["purpose"] == purpose and s.get("confirmed", True)
    ]
    if not relevant:
        return Effective("none", False, None, "no statement for this channel and purpose: absence is not consent")
    ordered = sorted(
        relevant,
        key=lambda s: (s["event_time"], s["status"] in NEGATIVE, -policy.rank(s["source"]), s["received_at"]),
        reverse=True,
    )
    best = ordered[0]
    tie = [s for s in ordered if s["event_time"] == best["event_time"]]
    why = "latest event time wins"
    if len(tie) > 1:
        why += "; on a tie a withdrawal beats a grant" + ("; then source priority" if policy.source_priority else "")
    if best["status"] == "granted" and best.get("expires_at") and best["expires_at"] <= now:
        return Effective("expired", False, best["id"], f"{why}; that grant expired", len(relevant))
    return Effective(best["status"], best["status"] == "granted", best["id"], why, len(relevant))


CHANNEL_ORDER: tuple[str, ...] = ("zalo", "email", "sms", "push", "messenger", "phone", "post")


def best_channel(
    statements: list[dict[str, Any]], purpose: str, reachable: list[str], preferred: str | None, now: datetime
) -> tuple[str | None, list[dict[str, Any]]]:
    """The consented, reachable channel the person prefers; else the first consented one in a fixed order.
    Returns it with the state of every channel considered."""
    considered: list[dict[str, Any]] = []
    for channel in CHANNEL_ORDER:
        e = effective(statements, channel, purpose, now)
        considered.append(
            {
                "channel": channel,
                "allowed": e.allowed,
                "reachable": channel in reachable,
                "status": e.status,
                "decided_by": e.decided_by,
            }
        )
    usable: list[str] = [str(c["channel"]) for c in considered if c["allowed"] and c["reachable"]]
    if preferred in usable:
        return preferred, considered
    return (usable[0] if usable else None), considered
