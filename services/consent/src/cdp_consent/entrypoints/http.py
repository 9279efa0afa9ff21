"""The consent service's internal API: the ledger, the check API (single and batch), suppressions."""

from __future__ import annotations

from typing import Annotated, Any

from cdp_common.contracts.consent import Channel, Purpose, StatementIn
from cdp_common.events import utcnow
from cdp_common.problems import Problem
from fastapi import APIRouter, Header, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from cdp_consent.adapters.subjects import ConsentSubjects
from cdp_consent.service_layer import ledger, privacy

router = APIRouter(prefix="/v1/consent", tags=["consent"])
PersonId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


def subjects_of(request: Request) -> ConsentSubjects:
    s: ConsentSubjects = request.app.state.subjects
    return s


@router.get("/subjects/{person_id}", summary="Every statement about a person, with its proof, and the effective state")
async def read_subject(person_id: PersonId, request: Request) -> dict[str, Any]:
    found = await subjects_of(request).ledger(person_id)
    if found is None:
        raise Problem(404, "Subject not found", f"the consent ledger knows no person {person_id}")
    doc, statements = found
    return {
        "person_id": doc["_id"],
        "asked_for": person_id,  # differs when `person_id` was merged into `person_id` of the answer
        "absorbed": doc.get("absorbed", []),
        "reachable_channels": doc.get("reachable_channels", []),
        "preferred_channel": doc.get("preferred_channel"),
        "effective": doc.get("effective", {}),
        "statements": sorted(statements, key=lambda s: s["event_time"], reverse=True),
        "registered_at": doc["registered_at"],
    }


@router.get("/subjects/{person_id}/audit", summary="Who changed this person's consent, when and why (append-only)")
async def read_audit(person_id: PersonId, request: Request) -> dict[str, Any]:
    return {"person_id": person_id, "entries": await subjects_of(request).audit_of(person_id)}


@router.post("/statements", status_code=201, summary="Record a consent statement (kept forever, never edited)")
async def post_statement(
    body: StatementIn, request: Request, x_actor: Annotated[str, Header(max_length=100)] = "staff"
) -> dict[str, Any]:
    r = await ledger.record_statement(body, subjects_of(request), request.app.state.publisher, actor=x_actor)
    out: dict[str, Any] = {
        "statement_id": r.statement_id,
        "duplicate": r.duplicate,
        "effective": r.effective,
        "changed": r.changed,
    }
    if r.confirmation_token:  # for the confirmation email; stored only as a hash
        out["confirmation_token"] = r.confirmation_token
    return out


@router.post("/confirmations/{token}", summary="Double opt-in: the person confirms a grant with their token")
async def confirm(token: Annotated[str, Path(min_length=16, max_length=100)], request: Request) -> dict[str, Any]:
    state = await ledger.confirm(token, subjects_of(request), request.app.state.publisher)
    if state is None:
        raise Problem(404, "Unknown token", "this confirmation link is unknown or was already used")
    return {"confirmed": True, "effective": state}


@router.get("/best-channel", summary="The consented, reachable channel the person prefers")
async def best_channel(
    request: Request, person_id: Annotated[str, Query(min_length=1, max_length=64)], purpose: Purpose
) -> dict[str, Any]:
    from cdp_consent.domain.policy import best_channel as choose

    found = await subjects_of(request).ledger(person_id)
    if found is None:
        raise Problem(404, "Subject not found", f"the consent ledger knows no person {person_id}")
    doc, statements = found
    if await subjects_of(request).suppressed([person_id, doc["_id"]]):
        return {"person_id": person_id, "channel": None, "reason": "suppressed", "considered": []}
    channel, considered = choose(
        statements, purpose, doc.get("reachable_channels", []), doc.get("preferred_channel"), utcnow()
    )
    return {"person_id": person_id, "channel": channel, "considered": considered}


@router.get("/check", summary="May we contact this person on this channel for this purpose now? With the reason")
async def check_one(
    request: Request,
    person_id: Annotated[str, Query(min_length=1, max_length=64)],
    channel: Channel,
    purpose: Purpose,
) -> dict[str, Any]:
    return await answer_check(request.app, person_id, channel, purpose)


async def answer_check(app: Any, person_id: str, channel: str, purpose: str) -> dict[str, Any]:
    """One check: what the route above and the replica's fast path (`fast_check`) both answer."""
    subjects: ConsentSubjects = app.state.subjects
    return (await ledger.check([person_id], channel, purpose, subjects))[0]


class BatchCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channel: Channel
    purpose: Purpose
    person_ids: list[str] = Field(min_length=1, max_length=100_000)


@router.post("/check-batch", summary="The check for a campaign audience (up to 100,000 persons)")
async def check_batch(body: BatchCheck, request: Request) -> dict[str, Any]:
    # an audience is read in chunks, not remembered (it would push the hot persons of single checks out)
    results = await ledger.check(body.person_ids, body.channel, body.purpose, subjects_of(request), remember=False)
    return {"allowed": sum(r["allowed"] for r in results), "total": len(results), "results": results}


class SuppressionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=3, max_length=500, examples=["asked not to be contacted", "email bounced"])


@router.put("/suppressions/{person_id}", summary="Do not contact this person at all (overrides every consent)")
async def suppress(
    person_id: PersonId,
    body: SuppressionIn,
    request: Request,
    x_actor: Annotated[str, Header(max_length=100)] = "staff",
) -> dict[str, Any]:
    await ledger.suppress(person_id, body.reason, x_actor, subjects_of(request), request.app.state.publisher)
    return {"person_id": person_id, "suppressed": True}


@router.delete("/suppressions/{person_id}", status_code=204, summary="Lift a suppression")
async def unsuppress(
    person_id: PersonId, request: Request, x_actor: Annotated[str, Header(max_length=100)] = "staff"
) -> None:
    await ledger.unsuppress(person_id, x_actor, subjects_of(request), request.app.state.publisher)


privacy_router = APIRouter(prefix="/v1/privacy", tags=["privacy"])


class PrivacyRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(pattern="^(erasure|export)$")
    person_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    reason: str | None = Field(None, max_length=500, examples=["the person asked by email on 2026-11-20"])


@privacy_router.post(
    "/requests", status_code=202, summary="Open an erasure or export request (fans out to every service)"
)
async def open_request(
    body: PrivacyRequestIn, request: Request, x_actor: Annotated[str, Header(max_length=100)] = "staff"
) -> dict[str, Any]:
    doc = await privacy.open_request(
        body.kind, body.person_id, x_actor, request.app.state.runtime.db, request.app.state.publisher, body.reason
    )
    return {"request_id": doc["_id"], "status": doc["status"], "services": doc["services"]}


@privacy_router.get("/requests/{request_id}", summary="Progress: a report per service; open until all confirmed")
async def read_request(request_id: PersonId, request: Request) -> dict[str, Any]:
    db = request.app.state.runtime.db
    doc = await db["privacy_requests"].find_one({"_id": request_id})
    if doc is None:
        raise Problem(404, "Request not found", f"no privacy request {request_id}")
    out = {"request_id": doc.pop("_id"), **doc}
    if doc["kind"] == "export" and doc["status"] == "completed":
        export = await db["privacy_exports"].find_one({"_id": request_id})
        out["export"] = (export or {}).get("data", {})
    return out
