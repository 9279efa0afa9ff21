"""Privacy requests (GDPR and Vietnam's personal data protection rules): the consent service opens them, every
service carries them out on its own data and answers through Kafka, and the request shows a report per service;
it stays open until every service confirmed. An export gathers every service's answer into one document."""

from __future__ import annotations

import uuid
from typing import Any

from cdp_common.contracts.privacy import SERVICES_THAT_ANSWER, PrivacyAnswered, PrivacyRequested
from cdp_common.events import make_event, utcnow
from cdp_common.messaging import EventPublisher
from cdp_common.store import Document
from cdp_common.topics import PRIVACY_REQUESTS
from pymongo.asynchronous.database import AsyncDatabase

from cdp_consent.adapters.subjects import ConsentSubjects
from cdp_consent.service_layer import ledger


async def open_request(
    kind: str,
    person_id: str,
    by: str,
    db: AsyncDatabase[Document],
    publisher: EventPublisher,
    reason: str | None = None,
) -> dict[str, Any]:
    request_id = uuid.uuid4().hex
    now = utcnow()
    doc = {
        "_id": request_id,
        "kind": kind,
        "person_id": person_id,
        "by": by,
        "requested_at": now,
        "reason": reason,
        "status": "open",
        "services": {s: {"status": "pending"} for s in SERVICES_THAT_ANSWER},
    }
    await db["privacy_requests"].insert_one(doc)
    await ConsentSubjects(db).audit(
        {
            "at": now,
            "person_id": person_id,
            "action": f"{kind}_requested",
            "actor": by,
            "why": reason,
            "request_id": request_id,
        }
    )
    await publisher.publish(
        PRIVACY_REQUESTS.name,
        make_event(
            source="cdp/consent",
            event_type="privacy.requested",
            subject=person_id,
            event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"privacy/{request_id}").hex,
            data=PrivacyRequested(request_id=request_id, kind=kind, person_id=person_id, requested_at=now, by=by),
        ),
        personal=False,  # ids only; and it must stay readable to the services that erase after the first one
    )  # type: ignore[arg-type]
    return doc


async def on_answered(a: PrivacyAnswered, db: AsyncDatabase[Document]) -> None:
    requests = db["privacy_requests"]
    report: dict[str, Any] = {"status": "done", "answered_at": a.answered_at, "erased": a.erased}
    await requests.update_one({"_id": a.request_id}, {"$set": {f"services.{a.service}": report}})
    if a.kind == "export":
        await db["privacy_exports"].update_one(
            {"_id": a.request_id},
            {"$set": {f"data.{a.service}": a.data}, "$setOnInsert": {"created_at": utcnow()}},
            upsert=True,
        )
    doc = await requests.find_one({"_id": a.request_id})
    if doc and all(s.get("status") == "done" for s in doc["services"].values()) and doc["status"] == "open":
        result = await requests.update_one(
            {"_id": a.request_id, "status": "open"}, {"$set": {"status": "completed", "completed_at": utcnow()}}
        )
        if result.modified_count:
            await ConsentSubjects(db).audit(
                {
                    "at": utcnow(),
                    "person_id": a.person_id,
                    "action": f"{a.kind}_completed",
                    "actor": "every service confirmed",
                    "why": doc.get("reason"),
                    "request_id": a.request_id,
                }
            )


async def erase(person_id: str, subjects: ConsentSubjects, publisher: EventPublisher) -> dict[str, int]:
    """Statements go; the person stays suppressed (an id and a reason, nothing personal) so nobody re-contacts
    them from an old list."""
    merged = [d["_id"] async for d in subjects.subjects.find({"merged_into": person_id}, {"_id": 1})]
    deleted = await subjects.delete([person_id, *merged])
    for pid in (person_id, *merged):
        await ledger.announce(publisher, pid, "erased")
    await subjects.suppress(person_id, "erased at the person's request", "privacy", utcnow())
    db = subjects.subjects.database
    exports = [d["_id"] async for d in db["privacy_requests"].find({"person_id": person_id, "kind": "export"})]
    if exports:  # earlier exports held the person's data too
        await db["privacy_exports"].delete_many({"_id": {"$in": exports}})
    return {"consent_subjects": deleted, "exports": len(exports)}


async def export(person_id: str, subjects: ConsentSubjects) -> dict[str, Any]:
    found = await subjects.ledger(person_id)
    subject = None
    if found is not None:
        doc, statements = found
        subject = {**doc, "statements": statements}
    return {"subject": subject, "audit": await subjects.audit_of(person_id, limit=10_000)}
