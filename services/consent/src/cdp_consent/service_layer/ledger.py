"""Recording statements and answering "may we contact P on channel C for purpose U now?"."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from cdp_common.contracts.consent import ConsentChanged, StatementIn, StatementRecorded
from cdp_common.events import make_event, utcnow
from cdp_common.messaging import EventPublisher
from cdp_common.topics import CONSENT_EVENTS

from cdp_consent.adapters.subjects import ConsentSubjects
from cdp_consent.domain.policy import ConsentPolicy, effective

NS = uuid.UUID("a3c1f0de-6f0e-4b8e-9a7d-3d5e2b1c9f40")
SOURCE = "cdp/consent"
DEFAULT_POLICY = ConsentPolicy()


@dataclass(frozen=True)
class Recorded:
    statement_id: str
    duplicate: bool
    effective: dict[str, Any]
    changed: bool
    confirmation_token: str | None = None


async def record_statement(
    s: StatementIn, subjects: ConsentSubjects, publisher: EventPublisher, policy: ConsentPolicy = DEFAULT_POLICY
) -> Recorded:
    sid = uuid.uuid5(NS, f"{s.source}:{s.idempotency_key}").hex if s.idempotency_key else uuid.uuid4().hex
    now = utcnow()
    statement = {
        "id": sid,
        **s.model_dump(exclude={"idempotency_key", "person_id", "double_opt_in"}),
        "received_at": now,
    }
    statement["proof"] = s.proof.model_dump()
    token = None
    if s.double_opt_in and s.status == "granted":
        token = f"{s.person_id}.{secrets.token_urlsafe(24)}"  # the person id lets us find it by `_id`
        statement.update(confirmed=False, confirmation_hash=hashlib.sha256(token.encode()).hexdigest())
    added = await subjects.append(s.person_id, statement)
    if added:
        await publisher.publish(
            CONSENT_EVENTS.name,
            make_event(
                source=SOURCE,
                event_type="consent.statement_recorded",
                subject=s.person_id,
                event_id=uuid.uuid5(NS, f"recorded:{sid}").hex,
                data=StatementRecorded(
                    person_id=s.person_id,
                    statement_id=sid,
                    channel=s.channel,
                    purpose=s.purpose,
                    status=s.status,
                    source=s.source,
                    event_time=s.event_time,
                ),
            ),
        )
    state, changed = await refresh(s.person_id, s.channel, s.purpose, subjects, publisher, policy)
    return Recorded(sid, not added, state, changed, token if added else None)


async def confirm(token: str, subjects: ConsentSubjects, publisher: EventPublisher) -> dict[str, Any] | None:
    """Double opt-in: the person followed the link; the grant now counts (and may change effective consent)."""
    digest = hashlib.sha256(token.encode()).hexdigest()
    doc = await subjects.get(token.split(".", 1)[0])
    statements = (doc or {}).get("statements", [])
    i = next((n for n, x in enumerate(statements) if x.get("confirmation_hash") == digest), None)
    if doc is None or i is None:
        return None
    # guarded by position and state (the positional `$` operator is outside the store contract)
    result = await subjects.subjects.update_one(
        {"_id": doc["_id"], f"statements.{i}.confirmation_hash": digest, f"statements.{i}.confirmed": False},
        {"$set": {f"statements.{i}.confirmed": True, f"statements.{i}.confirmed_at": utcnow()}},
    )
    if result.modified_count == 0:
        return None
    st = next(x for x in doc["statements"] if x.get("confirmation_hash") == digest)
    state, _ = await refresh(doc["_id"], st["channel"], st["purpose"], subjects, publisher)
    return state


async def refresh(
    person_id: str,
    channel: str,
    purpose: str,
    subjects: ConsentSubjects,
    publisher: EventPublisher,
    policy: ConsentPolicy = DEFAULT_POLICY,
) -> tuple[dict[str, Any], bool]:
    """Recompute one effective state; when it moved, publish `consent.changed` (before storing the new state: a
    crash in between republishes with the same id on a retry) and store it. Returns the state and whether it
    moved."""
    doc = await subjects.get(person_id)
    assert doc is not None
    now = utcnow()
    key = f"{channel}:{purpose}"
    eff = effective(doc["statements"], channel, purpose, now, policy)
    state = {
        "status": eff.status,
        "allowed": eff.allowed,
        "decided_by": eff.decided_by,
        "reason": eff.reason,
        "policy_version": policy.version,
    }
    before = (doc.get("effective") or {}).get(key, {})
    moved = (before.get("status"), before.get("decided_by")) != (eff.status, eff.decided_by)
    if moved and eff.decided_by:
        await publisher.publish(
            CONSENT_EVENTS.name,
            make_event(
                source=SOURCE,
                event_type="consent.changed",
                subject=person_id,
                event_id=uuid.uuid5(NS, f"changed:{person_id}:{key}:{eff.decided_by}:{eff.status}").hex,
                data=ConsentChanged(
                    person_id=person_id,
                    channel=channel,
                    purpose=purpose,
                    status=eff.status,  # type: ignore[arg-type]
                    previous_status=before.get("status"),
                    decided_by_statement_id=eff.decided_by,
                    reason=eff.reason,
                    changed_at=now,
                ),
            ),
        )
    if moved:
        await subjects.set_effective(person_id, key, state)
    return state, moved


async def check(
    person_ids: list[str],
    channel: str,
    purpose: str,
    subjects: ConsentSubjects,
    policy: ConsentPolicy = DEFAULT_POLICY,
) -> list[dict[str, Any]]:
    now = utcnow()
    out: list[dict[str, Any]] = []
    for i in range(0, len(person_ids), 1000):
        chunk = person_ids[i : i + 1000]
        docs = await subjects.get_many(chunk)
        blocked = await subjects.suppressed(chunk)
        for pid in chunk:
            if pid in blocked:
                out.append(
                    {
                        "person_id": pid,
                        "allowed": False,
                        "status": "suppressed",
                        "decided_by": None,
                        "reason": f"on the suppression list: {blocked[pid]['reason']}",
                    }
                )
                continue
            eff = effective((docs.get(pid) or {}).get("statements", []), channel, purpose, now, policy)
            out.append(
                {
                    "person_id": pid,
                    "allowed": eff.allowed,
                    "status": eff.status,
                    "decided_by": eff.decided_by,
                    "reason": eff.reason,
                }
            )
    return out
