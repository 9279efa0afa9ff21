"""Recording statements and answering "may we contact P on channel C for purpose U now?"."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from cdp_common.contracts.consent import ConsentChanged, StatementIn, StatementRecorded, SubjectChanged
from cdp_common.contracts.identity import MergeUndone, PersonsMerged
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


async def announce(
    publisher: EventPublisher, person_id: str, change: str, related_id: str | None = None, event_key: str | None = None
) -> None:
    """`consent.subject_changed`: ids only, so never sealed (an erased person gets no new key from it)."""
    event_id = uuid.uuid5(NS, f"subject_changed:{person_id}:{change}:{event_key}").hex if event_key else None
    await publisher.publish(
        CONSENT_EVENTS.name,
        make_event(
            source=SOURCE,
            event_type="consent.subject_changed",
            subject=person_id,
            event_id=event_id,
            data=SubjectChanged(person_id=person_id, change=change, related_id=related_id, at=utcnow()),  # type: ignore[arg-type]
        ),
        personal=False,
    )


async def suppress(
    person_id: str, reason: str, actor: str, subjects: ConsentSubjects, publisher: EventPublisher
) -> None:
    await subjects.suppress(person_id, reason, actor, utcnow())
    await subjects.audit(
        {"at": utcnow(), "person_id": person_id, "action": "suppressed", "actor": actor, "why": reason}
    )
    await announce(publisher, person_id, "suppressed")


async def unsuppress(person_id: str, actor: str, subjects: ConsentSubjects, publisher: EventPublisher) -> None:
    await subjects.unsuppress(person_id)
    await subjects.audit(
        {"at": utcnow(), "person_id": person_id, "action": "suppression_lifted", "actor": actor, "why": None}
    )
    await announce(publisher, person_id, "suppression_lifted")


async def record_statement(
    s: StatementIn,
    subjects: ConsentSubjects,
    publisher: EventPublisher,
    policy: ConsentPolicy = DEFAULT_POLICY,
    actor: str = "staff",
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
        await subjects.audit(
            {
                "at": now,
                "person_id": s.person_id,
                "action": "statement_recorded",
                "actor": actor,
                "why": f"{s.status} for {s.channel}/{s.purpose} from {s.source}"
                + (f" (campaign {s.campaign})" if s.campaign else ""),
                "statement_id": sid,
            }
        )
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
    if not await subjects.confirm_statement(doc["_id"], i, digest):
        return None
    st = next(x for x in doc["statements"] if x.get("confirmation_hash") == digest)
    await subjects.audit(
        {
            "at": utcnow(),
            "person_id": doc["_id"],
            "action": "double_opt_in_confirmed",
            "actor": "the person (confirmation link)",
            "why": f"confirmed {st['channel']}/{st['purpose']}",
            "statement_id": st["id"],
        }
    )
    await announce(publisher, doc["_id"], "confirmed", event_key=st["id"])
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
    """Recompute one effective state of the person standing for `person_id` today (over the union ledger of a
    merge); when it moved, publish `consent.changed` (before storing the new state: a crash in between republishes
    with the same id on a retry) and store it. Returns the state and whether it moved."""
    found = await subjects.ledger(person_id)
    assert found is not None
    doc, statements = found
    person_id = doc["_id"]
    now = utcnow()
    key = f"{channel}:{purpose}"
    eff = effective(statements, channel, purpose, now, policy)
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
    remember: bool = True,
) -> list[dict[str, Any]]:
    now = utcnow()
    out: list[dict[str, Any]] = []
    for i in range(0, len(person_ids), 1000):
        chunk = person_ids[i : i + 1000]
        views = await subjects.check_views(chunk, remember=remember)
        for pid in chunk:
            view = views[pid]
            if view.suppressed is not None:
                out.append(
                    {
                        "person_id": pid,
                        "allowed": False,
                        "status": "suppressed",
                        "decided_by": None,
                        "reason": f"on the suppression list: {view.suppressed}",
                    }
                )
                continue
            eff = effective(view.statements, channel, purpose, now, policy)
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


async def refresh_all(
    person_id: str, subjects: ConsentSubjects, publisher: EventPublisher, policy: ConsentPolicy = DEFAULT_POLICY
) -> int:
    """Recompute every effective state of a person (after a merge or its undoing). Returns how many moved."""
    found = await subjects.ledger(person_id)
    if found is None:
        return 0
    doc, statements = found
    keys = {(st["channel"], st["purpose"]) for st in statements}
    keys |= {tuple(k.split(":", 1)) for k in doc.get("effective", {})}  # type: ignore[misc]
    moved = 0
    for channel, purpose in sorted(keys):
        moved += (await refresh(doc["_id"], channel, purpose, subjects, publisher, policy))[1]
    return moved


async def on_persons_merged(p: PersonsMerged, subjects: ConsentSubjects, publisher: EventPublisher) -> None:
    """The merged person's statements now count for the survivor; the survivor's effective consent is resolved
    again over both ledgers (the latest statement wins, whoever it was recorded for)."""
    await subjects.absorb(p.survivor_id, p.merged_id, p.merge_id, p.merged_at)
    for pid, other in ((p.survivor_id, p.merged_id), (p.merged_id, p.survivor_id)):
        await announce(publisher, pid, "merged", other, event_key=p.merge_id)
    moved = await refresh_all(p.survivor_id, subjects, publisher)
    await subjects.audit(
        {
            "at": utcnow(),
            "person_id": p.survivor_id,
            "action": "ledgers_merged",
            "actor": p.by,
            "why": f"identity merged {p.merged_id} into {p.survivor_id} (merge {p.merge_id}); {moved} states moved",
            "merge_id": p.merge_id,
        }
    )


async def on_merge_undone(p: MergeUndone, subjects: ConsentSubjects, publisher: EventPublisher) -> None:
    """Each person gets back exactly their own statements, and both are resolved again."""
    await subjects.release(p.survivor_id, p.restored_id)
    for pid, other in ((p.survivor_id, p.restored_id), (p.restored_id, p.survivor_id)):
        await announce(publisher, pid, "separated", other, event_key=f"undo:{p.merge_id}")
    moved = 0
    for pid in (p.survivor_id, p.restored_id):
        moved += await refresh_all(pid, subjects, publisher)
    await subjects.audit(
        {
            "at": utcnow(),
            "person_id": p.survivor_id,
            "action": "ledgers_separated",
            "actor": p.by,
            "why": f"identity undid merge {p.merge_id}: {p.restored_id} has its own statements again; "
            f"{moved} states moved",
            "merge_id": p.merge_id,
        }
    )
