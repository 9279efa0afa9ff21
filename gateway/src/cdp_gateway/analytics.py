"""Analytics routes relayed to the analytics service: aggregates for analysts; per-customer figures (ids and
numbers, never contact data) for the staff who work with customers; segment definitions for admins and marketing."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response

from cdp_gateway.auth import Allow
from cdp_gateway.contacts import ERRORS

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])
READ = [Depends(Allow("admin", "analyst", "marketing", "sales"))]
SEGMENT_ID = r"^[a-z0-9][a-z0-9-]{1,62}$"
SegmentId = Annotated[str, Path(pattern=SEGMENT_ID)]


async def analytics(request: Request, method: str, path: str, **kwargs: Any) -> Response:
    """Relay to the analytics service (figures and ids only: nothing here is audited as personal data)."""
    response: Response = await request.app.state.upstreams["analytics"].relay(method, path, **kwargs)
    return response


@router.get(
    "/kpis", summary="KPIs for a period, with the previous one and each formula", responses=ERRORS, dependencies=READ
)
async def kpis(
    request: Request,
    from_: Annotated[date, Query(alias="from")],
    to: date,
    segment: Annotated[str | None, Query(pattern=SEGMENT_ID)] = None,
) -> Response:
    params = {"from": from_.isoformat(), "to": to.isoformat(), "segment": segment}
    return await analytics(request, "GET", "/v1/analytics/kpis", params=params, read_timeout=60)


@router.get(
    "/reports/{granularity}",
    summary="Period report (month, quarter, year) as CSV or JSON: every KPI beside the period before",
    responses=ERRORS,
    dependencies=READ,
)
async def report(
    request: Request,
    granularity: Annotated[str, Path(pattern="^(month|quarter|year)$")],
    at: date,
    format: Annotated[str, Query(pattern="^(csv|json)$")] = "csv",
) -> Response:
    return await analytics(
        request,
        "GET",
        f"/v1/analytics/reports/{granularity}",
        params={"at": at.isoformat(), "format": format},
        read_timeout=60,
    )


@router.get(
    "/journey",
    summary="The journey funnel: reached, conversion to the next stage, days in stage, touchpoints",
    responses=ERRORS,
    dependencies=READ,
)
async def journey(
    request: Request,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: date | None = None,
) -> Response:
    params = {"from": from_.isoformat() if from_ else None, "to": to.isoformat() if to else None}
    return await analytics(request, "GET", "/v1/analytics/journey", params=params, read_timeout=60)


@router.get("/new-contacts", summary="New contacts per day", responses=ERRORS, dependencies=READ)
async def new_contacts(request: Request, from_: Annotated[date, Query(alias="from")], to: date) -> Response:
    return await analytics(
        request, "GET", "/v1/analytics/new-contacts", params={"from": from_.isoformat(), "to": to.isoformat()}
    )


# per customer: figures about one person (no names or contact data), for the staff who work with customers
PER_CUSTOMER = [Depends(Allow("admin", "analyst", "marketing", "sales", "support"))]


@router.get(
    "/dormant",
    summary="Customers silent for longer than is usual for their own buying rhythm",
    responses=ERRORS,
    dependencies=PER_CUSTOMER,
)
async def dormant(request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> Response:
    return await analytics(request, "GET", "/v1/analytics/dormant", params={"limit": limit})


@router.get(
    "/customers/{contact_id}",
    summary="A customer's buying rhythm, dormancy, RFM and journey stage",
    responses=ERRORS,
    dependencies=PER_CUSTOMER,
)
async def customer(
    contact_id: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")], request: Request
) -> Response:
    return await analytics(request, "GET", f"/v1/analytics/customers/{contact_id}")


DEFINE = [Depends(Allow("admin", "marketing"))]


@router.get("/segments", summary="Every segment with its definition and size", responses=ERRORS, dependencies=READ)
async def segments(request: Request) -> Response:
    return await analytics(request, "GET", "/v1/analytics/segments")


@router.put(
    "/segments/{segment_id}",
    status_code=202,
    summary="Define a dynamic segment (rules over facts and scores) or a static list (ids); its members are "
    "evaluated in the background (`evaluation` on `GET /segments`: running, done or failed)",
    responses=ERRORS,
    dependencies=DEFINE,
)
async def put_segment(
    segment_id: SegmentId,
    request: Request,
    body: Annotated[dict[str, Any], Body()],
) -> Response:
    return await analytics(request, "PUT", f"/v1/analytics/segments/{segment_id}", json=body)


@router.get(
    "/segments/{segment_id}/members",
    summary="The contact ids in a segment",
    responses=ERRORS,
    dependencies=PER_CUSTOMER,
)
async def segment_members(segment_id: SegmentId, request: Request) -> Response:
    return await analytics(request, "GET", f"/v1/analytics/segments/{segment_id}/members")


@router.post(
    "/evaluations",
    summary="Evaluate every customer's scores, dormancy and segments now (the service also does it on its own)",
    responses=ERRORS,
    dependencies=[Depends(Allow("admin", "analyst"))],
)
async def evaluate(request: Request) -> Response:
    return await analytics(request, "POST", "/v1/analytics/evaluations", read_timeout=300)


Sku = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


@router.get(
    "/consumables",
    summary="Consumable products whose run-out is predicted (reorder reminders), with their usual duration",
    responses=ERRORS,
    dependencies=READ,
)
async def consumables(request: Request) -> Response:
    return await analytics(request, "GET", "/v1/analytics/consumables")


@router.put(
    "/consumables/{sku}",
    summary="Declare a product consumable: days one unit lasts, days before the run-out to remind",
    responses=ERRORS,
    dependencies=DEFINE,
)
async def put_consumable(sku: Sku, request: Request, body: Annotated[dict[str, Any], Body()]) -> Response:
    return await analytics(request, "PUT", f"/v1/analytics/consumables/{sku}", json=body)


@router.delete(
    "/consumables/{sku}",
    status_code=204,
    summary="No longer predict this product's run-out",
    responses=ERRORS,
    dependencies=DEFINE,
)
async def delete_consumable(sku: Sku, request: Request) -> Response:
    return await analytics(request, "DELETE", f"/v1/analytics/consumables/{sku}")
