"""Privacy requests relayed to the consent service, which coordinates them across every service."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request, Response

from cdp_gateway.auth import Allow
from cdp_gateway.contacts import ERRORS, actor
from cdp_gateway.upstream import audited

router = APIRouter(prefix="/v1/privacy", tags=["privacy"])
DPO = [Depends(Allow("admin", "support"))]  # who handles data subject requests


@router.post(
    "/requests", status_code=202, summary="Open an erasure or export request", responses=ERRORS, dependencies=DPO
)
async def open_request(request: Request, body: Annotated[dict[str, Any], Body()]) -> Response:
    return await audited(
        request,
        "consent",
        "POST",
        "/v1/privacy/requests",
        str(body.get("person_id")),
        json=body,
        headers=actor(request),
    )


@router.get(
    "/requests/{request_id}",
    summary="A request's progress per service (and the export when done)",
    responses=ERRORS,
    dependencies=DPO,
)
async def read_request(request_id: Annotated[str, Path(pattern=r"^[a-f0-9]{32}$")], request: Request) -> Response:
    return await audited(request, "consent", "GET", f"/v1/privacy/requests/{request_id}")
