"""Analytics routes relayed to the analytics service: aggregates only, so analysts may read them."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from cdp_gateway.auth import Allow
from cdp_gateway.contacts import ERRORS

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])
READ = [Depends(Allow("admin", "analyst", "marketing", "sales"))]


@router.get(
    "/kpis", summary="KPIs for a period, with the previous one and each formula", responses=ERRORS, dependencies=READ
)
async def kpis(request: Request, from_: Annotated[date, Query(alias="from")], to: date) -> Response:
    response: Response = await request.app.state.upstreams["analytics"].relay(
        "GET", "/v1/analytics/kpis", params={"from": from_.isoformat(), "to": to.isoformat()}, read_timeout=60
    )
    return response


@router.get("/new-contacts", summary="New contacts per day", responses=ERRORS, dependencies=READ)
async def new_contacts(request: Request, from_: Annotated[date, Query(alias="from")], to: date) -> Response:
    response: Response = await request.app.state.upstreams["analytics"].relay(
        "GET", "/v1/analytics/new-contacts", params={"from": from_.isoformat(), "to": to.isoformat()}
    )
    return response
