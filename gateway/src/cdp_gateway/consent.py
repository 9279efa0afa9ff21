"""Consent routes relayed to the consent service."""

from __future__ import annotations

from typing import Annotated, Any

from cdp_common.contracts.consent import Channel, Purpose, StatementIn
from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response

from cdp_gateway.auth import Allow
from cdp_gateway.contacts import ERRORS, actor
from cdp_gateway.upstream import audited

router = APIRouter(prefix="/v1/consent", tags=["consent"])
PersonId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
READ = [Depends(Allow("admin", "sales", "support", "marketing"))]
RECORD = [Depends(Allow("admin", "sales", "support", "marketing"))]
CHECK = [Depends(Allow("admin", "sales", "marketing"))]


async def consent(request: Request, method: str, path: str, person_id: str | None = None, **kw: Any) -> Response:
    return await audited(request, "consent", method, path, person_id, **kw)


@router.get(
    "/subjects/{person_id}",
    summary="Statements with proof and the effective state",
    responses=ERRORS,
    dependencies=READ,
)
async def read_subject(person_id: PersonId, request: Request) -> Response:
    return await consent(request, "GET", f"/v1/consent/subjects/{person_id}", person_id)


@router.post(
    "/statements", status_code=201, summary="Record a consent statement", responses=ERRORS, dependencies=RECORD
)
async def post_statement(body: StatementIn, request: Request) -> Response:
    return await consent(
        request,
        "POST",
        "/v1/consent/statements",
        body.person_id,
        json=body.model_dump(mode="json"),
        headers=actor(request),
    )


@router.get(
    "/subjects/{person_id}/audit",
    summary="Who changed this person's consent, when and why (append-only)",
    responses=ERRORS,
    dependencies=[Depends(Allow("admin", "support"))],
)
async def read_audit(person_id: PersonId, request: Request) -> Response:
    return await consent(request, "GET", f"/v1/consent/subjects/{person_id}/audit", person_id)


@router.get("/check", summary="May we contact this person now? With the reason", dependencies=CHECK)
async def check(
    request: Request, person_id: Annotated[str, Query(max_length=64)], channel: Channel, purpose: Purpose
) -> Response:
    return await consent(
        request,
        "GET",
        "/v1/consent/check",
        person_id,
        params={"person_id": person_id, "channel": channel, "purpose": purpose},
    )


@router.post("/check-batch", summary="The check for a campaign audience", dependencies=CHECK)
async def check_batch(request: Request, body: Annotated[dict[str, Any], Body()]) -> Response:
    return await consent(request, "POST", "/v1/consent/check-batch", json=body, read_timeout=60)


@router.put("/suppressions/{person_id}", summary="Do not contact this person", dependencies=RECORD)
async def suppress(person_id: PersonId, request: Request, body: Annotated[dict[str, Any], Body()]) -> Response:
    return await consent(
        request, "PUT", f"/v1/consent/suppressions/{person_id}", person_id, json=body, headers=actor(request)
    )


@router.delete(
    "/suppressions/{person_id}", status_code=204, summary="Lift a suppression", dependencies=[Depends(Allow("admin"))]
)
async def unsuppress(person_id: PersonId, request: Request) -> Response:
    return await consent(request, "DELETE", f"/v1/consent/suppressions/{person_id}", person_id, headers=actor(request))


@router.get("/best-channel", summary="The consented, reachable channel the person prefers", dependencies=CHECK)
async def best_channel(request: Request, person_id: Annotated[str, Query(max_length=64)], purpose: Purpose) -> Response:
    return await consent(
        request, "GET", "/v1/consent/best-channel", person_id, params={"person_id": person_id, "purpose": purpose}
    )


@router.post("/confirmations/{token}", summary="Double opt-in confirmation (the link in the email; no sign-in)")
async def confirm(token: Annotated[str, Path(min_length=16, max_length=100)], request: Request) -> Response:
    response: Response = await request.app.state.upstreams["consent"].relay(
        "POST", f"/v1/consent/confirmations/{token}"
    )
    return response
