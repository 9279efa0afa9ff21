"""Privacy requests relayed to the consent service, which coordinates them across every service."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request, Response

from cdp_gateway.auth import Allow, Principal
from cdp_gateway.contacts import ERRORS, actor

router = APIRouter(prefix="/v1/privacy", tags=["privacy"])
DPO = [Depends(Allow("admin", "support"))]  # who handles data subject requests


@router.post(
    "/requests", status_code=202, summary="Open an erasure or export request", responses=ERRORS, dependencies=DPO
)
async def open_request(request: Request, body: Annotated[dict[str, Any], Body()]) -> Response:
    principal: Principal = request.state.principal
    response: Response = await request.app.state.upstreams["consent"].relay(
        "POST", "/v1/privacy/requests", json=body, headers=actor(request)
    )
    await request.app.state.auth.record(
        principal, "POST", "/v1/privacy/requests", response.status_code, str(body.get("person_id"))
    )
    return response


@router.get(
    "/requests/{request_id}",
    summary="A request's progress per service (and the export when done)",
    responses=ERRORS,
    dependencies=DPO,
)
async def read_request(request_id: Annotated[str, Path(pattern=r"^[a-f0-9]{32}$")], request: Request) -> Response:
    principal: Principal = request.state.principal
    response: Response = await request.app.state.upstreams["consent"].relay("GET", f"/v1/privacy/requests/{request_id}")
    await request.app.state.auth.record(principal, "GET", "/v1/privacy/requests", response.status_code, None)
    return response
